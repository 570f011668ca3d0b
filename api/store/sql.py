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


def observation_where(source_column: str, source: str | None, time_column: str, since: Any,
                      category: str | None, grid_id: str | None, incident_id: str | None) -> Where:
    """The filters alerts and reports share: who sent it (``source_column``: device or worker),
    category, grid (or any below it), incident, and not before ``since`` (on ``time_column``)."""
    return (
        Where()
        .add(f"{source_column} = %(source)s", source=source)
        .add("category = %(category)s", category=category)
        .add(grid_clause(), grid_id=grid_id)
        .add("incident_id = %(incident_id)s", incident_id=incident_id)
        .add(f"{time_column} >= %(since)s", since=since)
    )
