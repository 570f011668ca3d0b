"""The engine's memory: incidents still open to new observations, and ids already seen.

Plain dataclasses with a JSON snapshot, so the live ingest can store the state in the same
database transaction as the effects of a batch and resume exactly where it stopped.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

from gridwatch.contracts import HistoryEntry, Incident, Member

RISK_ORDER = ("green", "blue", "yellow", "orange", "red")


def higher_risk(a: str, b: str) -> str:
    return a if RISK_ORDER.index(a) >= RISK_ORDER.index(b) else b


@dataclass
class ActiveIncident:
    """An incident that may still take new members."""

    id: str
    category: str
    grid_id: str | None
    grid_path: list[str]
    lat: float
    lon: float
    first_seen: datetime
    last_seen: datetime
    risk: str
    status: str = "open"
    level: str = "grid"
    alert_ids: list[str] = field(default_factory=list)
    report_ids: list[str] = field(default_factory=list)
    members: list[dict[str, Any]] = field(default_factory=list)
    history: list[dict[str, Any]] = field(default_factory=list)

    def to_incident(self) -> Incident:
        return Incident(
            id=self.id, category=self.category, grid_id=self.grid_id, status=self.status,  # type: ignore[arg-type]
            risk=self.risk, level=self.level, lat=self.lat, lon=self.lon,  # type: ignore[arg-type]
            first_seen=self.first_seen, last_seen=self.last_seen,
            alert_ids=list(self.alert_ids), report_ids=list(self.report_ids), grid_path=list(self.grid_path),
            members=[Member(**m) for m in self.members], history=[HistoryEntry(**h) for h in self.history],
        )

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["first_seen"] = self.first_seen.isoformat()
        data["last_seen"] = self.last_seen.isoformat()
        data["history"] = [{**h, "at": h["at"].isoformat()} for h in self.history]
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "ActiveIncident":
        data = dict(data)
        data["first_seen"] = datetime.fromisoformat(data["first_seen"])
        data["last_seen"] = datetime.fromisoformat(data["last_seen"])
        data["history"] = [{**h, "at": datetime.fromisoformat(h["at"])} for h in data["history"]]
        return cls(**data)


@dataclass
class EngineState:
    active: dict[str, ActiveIncident] = field(default_factory=dict)
    seen: dict[str, datetime] = field(default_factory=dict)
    watermark: datetime | None = None
    next_prune: datetime | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "version": 1,
            "watermark": self.watermark.isoformat() if self.watermark else None,
            "active": [a.to_json() for a in self.active.values()],
            "seen": {k: v.isoformat() for k, v in self.seen.items()},
            "next_prune": self.next_prune.isoformat() if self.next_prune else None,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "EngineState":
        if data.get("version") != 1:
            raise ValueError(f"unknown engine state version {data.get('version')!r}")
        active = [ActiveIncident.from_json(a) for a in data["active"]]
        return cls(
            active={a.id: a for a in active},
            seen={k: datetime.fromisoformat(v) for k, v in data["seen"].items()},
            watermark=datetime.fromisoformat(data["watermark"]) if data["watermark"] else None,
            next_prune=datetime.fromisoformat(data["next_prune"]) if data["next_prune"] else None,
        )
