"""A small WHERE-clause builder: clause text comes from code, values always go as parameters."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class Where:
    clauses: list[str] = field(default_factory=list)
    params: dict[str, Any] = field(default_factory=dict)

    def add(self, clause: str, **params: Any) -> "Where":
        """Add ``clause`` (using ``%(name)s`` placeholders) unless every given value is None or empty."""
        if all(v is None or v == [] for v in params.values()):
            return self
        self.clauses.append(clause)
        self.params.update(params)
        return self

    def sql(self) -> str:
        return " WHERE " + " AND ".join(self.clauses) if self.clauses else ""


def grid_clause(column: str = "grid_path") -> str:
    """Matches a grid or any grid below it: the ingest stores each row's grid and its ancestors."""
    return f"%(grid_id)s = ANY({column})"
