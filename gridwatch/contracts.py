"""Wire contracts between GridWatch tiers (../shared/CONTRACTS.md).

Fields named in CONTRACTS.md are never renamed, retyped or dropped. The wire models accept
extra fields (``extra="allow"``) because the contract lets any tier add fields, and a consumer
must pass through what it does not know; configuration models, by contrast, forbid extras.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    PlainSerializer,
)

ALERT_CATEGORIES = ("fire", "crowd", "parking", "alarm", "device")
REPORT_CATEGORIES = ALERT_CATEGORIES + ("hazard", "dispute", "other")
STATUSES = ("open", "assigned", "in_progress", "resolved", "closed", "dismissed")
RISKS = ("red", "orange", "yellow", "blue", "green")
LEVELS = ("grid", "community", "street", "district")
GRID_LEVELS = ("district", "street", "community", "grid", "micro_grid")

Status = Literal["open", "assigned", "in_progress", "resolved", "closed", "dismissed"]
Risk = Literal["red", "orange", "yellow", "blue", "green"]
Level = Literal["grid", "community", "street", "district"]


def _require_utc(value: datetime) -> datetime:
    if value.tzinfo is None:
        raise ValueError("timestamp must carry a time zone, e.g. 2026-09-09T06:08:08Z")
    try:
        return value.astimezone(timezone.utc)
    except OverflowError:  # 0001-01-01T00:00+01:00: in UTC it falls outside the years 1-9999
        raise ValueError("timestamp out of range: in UTC it falls outside the years 1-9999") from None


def format_time(value: datetime) -> str:
    """RFC 3339 in UTC with millisecond precision (truncated) and a ``Z`` suffix.

    Every stored and published time goes through here (the ingest formats a few per alert), so it
    skips the conversion of a time already in UTC and lets ``isoformat`` do the rest: the same text
    as ``strftime("%Y-%m-%dT%H:%M:%S.")`` plus the milliseconds, at a fraction of the cost."""
    utc = value if value.tzinfo is timezone.utc else value.astimezone(timezone.utc)
    return utc.isoformat(timespec="milliseconds")[:-6] + "Z"


UtcTime = Annotated[
    datetime,
    AfterValidator(_require_utc),
    PlainSerializer(format_time, return_type=str, when_used="json"),
]
Latitude = Annotated[float, Field(ge=-90.0, le=90.0, description="WGS 84 latitude in degrees")]
Longitude = Annotated[float, Field(ge=-180.0, le=180.0, description="WGS 84 longitude in degrees")]
Word = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[a-z][a-z0-9_]*$")]
Identifier = Annotated[str, Field(min_length=1, max_length=128)]


class WireModel(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=True)

    def to_json(self) -> bytes:
        return self.model_dump_json(exclude_none=False).encode()


class Alert(WireModel):
    """A machine observation from an edge device (topic ``gridwatch.alerts``, key = device_id)."""

    kind: Literal["alert"] = "alert"
    id: Identifier
    category: Word
    type: Word
    device_id: Identifier
    site_id: Identifier
    lat: Latitude
    lon: Longitude
    observed_at: UtcTime
    confidence: float = Field(ge=0.0, le=1.0)
    attributes: dict[str, Any] = Field(default_factory=dict)


class PatrolReport(WireModel):
    """A grid worker's report (topic ``gridwatch.reports``, key = worker_id)."""

    kind: Literal["report"] = "report"
    id: Identifier
    category: Word
    worker_id: Identifier
    lat: Latitude
    lon: Longitude
    reported_at: UtcTime
    text: str = Field(default="", max_length=4000)
    photos: list[str] = Field(default_factory=list, max_length=20)


Observation = Alert | PatrolReport


class HistoryEntry(WireModel):
    """One change in an incident's life: who did what, when and why."""

    at: UtcTime
    actor: str
    action: str
    status: Status
    reason: str = ""


class Member(WireModel):
    """Why an observation joined an incident."""

    id: Identifier
    kind: Literal["alert", "report"]
    rule: str
    distance_m: float | None = None
    gap_s: float | None = None


class Incident(WireModel):
    """A grid incident (topic ``gridwatch.incidents`` and table ``incidents``)."""

    id: Identifier
    category: Word
    grid_id: str | None
    status: Status = "open"
    risk: Risk
    level: Level = "grid"
    lat: Latitude
    lon: Longitude
    first_seen: UtcTime
    last_seen: UtcTime
    alert_ids: list[str] = Field(default_factory=list)
    report_ids: list[str] = Field(default_factory=list)
    grid_path: list[str] = Field(default_factory=list)
    members: list[Member] = Field(default_factory=list)
    history: list[HistoryEntry] = Field(default_factory=list)
    outside_grid: bool = Field(False, description="the position lies outside every grid of the map")
    merged_into: str | None = Field(None, description="set when this incident was merged into another")


class Heartbeat(WireModel):
    """A device's sign of life (topic ``gridwatch.heartbeats``, key = device_id)."""

    kind: Literal["heartbeat"] = "heartbeat"
    device_id: Identifier
    site_id: Identifier
    device_type: Literal["button", "camera", "edge"]
    seen_at: UtcTime
    status: Literal["online", "offline"] = "online"
    attributes: dict[str, Any] = Field(default_factory=dict)


def parse_observation(raw: dict[str, Any]) -> Observation:
    """Validate a decoded alert or report by its ``kind``; raises ``pydantic.ValidationError``."""
    kind = raw.get("kind")
    if kind == "report":
        return PatrolReport.model_validate(raw)
    if kind == "alert":
        return Alert.model_validate(raw)
    raise ValueError(f"kind must be 'alert' or 'report', got {kind!r}")


def event_time(observation: Observation) -> datetime:
    """The time the observation happened, whichever its kind."""
    if isinstance(observation, Alert):
        return observation.observed_at
    return observation.reported_at
