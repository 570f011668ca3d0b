"""HTTP request and response bodies (``*Create`` in, ``*Public`` out), built on the wire contracts.

Requests forbid unknown fields: a worker app that sends ``lattitude`` should hear about it rather
than have the position silently dropped. Responses reuse the contract types, so times go out in
RFC 3339 UTC with a ``Z`` exactly as on Kafka.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone
from typing import Any, Generic, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from api.lifecycle import Action
from gridwatch.contracts import (
    REPORT_CATEGORIES,
    Identifier,
    Incident,
    Latitude,
    Level,
    Longitude,
    PatrolReport,
    Risk,
    Status,
    UtcTime,
    Word,
)

# A phone whose clock runs a little fast is normal; a report from next week is a bug.
MAX_CLOCK_SKEW = timedelta(minutes=10)

T = TypeVar("T")
ESCALATES_AT = ("when it goes up a level if nobody acknowledges (open) or resolves it by then; null when it "
                "cannot (resolved, closed, dismissed, merged, or already at district). May be past until the "
                "ingest's next escalation round")


class RequestBody(BaseModel):
    """A request body: unknown fields and NUL characters (which PostgreSQL's text cannot hold) refused."""

    model_config = ConfigDict(extra="forbid")

    @field_validator("*")
    @classmethod
    def _no_nul(cls, value: Any) -> Any:
        items = [value] if isinstance(value, str) else value if isinstance(value, list) else []
        if any(isinstance(item, str) and "\x00" in item for item in items):
            raise ValueError("holds a NUL character (\\u0000), which cannot be stored; remove it")
        return value


class PatrolReportCreate(RequestBody):
    """What a grid worker's app sends; the server adds ``kind`` and ``id``."""

    category: Word = Field(description="one of " + ", ".join(REPORT_CATEGORIES))
    worker_id: Identifier
    lat: Latitude
    lon: Longitude
    reported_at: UtcTime | None = Field(None, description="when the worker saw it; defaults to the time received")
    text: str = Field("", max_length=4000)
    photos: list[str] = Field(default_factory=list, max_length=20, description="photo references (URLs or keys)")
    accuracy_m: float | None = Field(None, ge=0.0, le=100_000.0, description="GPS accuracy radius in metres")
    grid_id: Identifier | None = Field(
        None, description="the grid the worker filed it under (the app pre-fills the grid of the GPS fix); "
        "the incident takes it when the fix is within 3 sigma of that grid")

    @field_validator("category")
    @classmethod
    def _known_category(cls, value: str) -> str:
        if value not in REPORT_CATEGORIES:
            raise ValueError(f"unknown category {value!r}; use one of {', '.join(REPORT_CATEGORIES)}")
        return value

    @field_validator("reported_at")
    @classmethod
    def _not_in_future(cls, value: datetime | None) -> datetime | None:
        if value is not None and value > datetime.now(timezone.utc) + MAX_CLOCK_SKEW:
            raise ValueError("reported_at is in the future; check the device clock")
        return value

    def to_report(self, received_at: datetime) -> PatrolReport:
        """The contract message, with a fresh id and ``reported_at`` defaulting to ``received_at``."""
        fields = self.model_dump(exclude_none=True)  # accuracy_m and grid_id travel only when known
        fields.update(id="r-" + uuid.uuid4().hex, reported_at=self.reported_at or received_at)
        return PatrolReport.model_validate(fields)


class PatrolReportAccepted(BaseModel):
    id: str
    status: Literal["accepted"] = "accepted"
    topic: str
    partition: int
    offset: int
    report: PatrolReport


class IncidentTransition(RequestBody):
    """A dispatcher's step in the closed loop: who does what, and why (kept in the history)."""

    action: Action
    actor: str = Field(min_length=1, max_length=128, description="who acts, e.g. a dispatcher's id")
    reason: str = Field(min_length=1, max_length=2000, description="why; shown in the incident's history")
    assignee: Identifier | None = Field(None, description="who is to handle it; only with action=assign")

    @model_validator(mode="after")
    def _assignee_only_on_assign(self) -> "IncidentTransition":
        if self.assignee is not None and self.action != "assign":
            raise ValueError(f"assignee is only used with action 'assign', not {self.action!r}")
        return self

    def history_reason(self) -> str:
        """The reason as stored: the schema has no assignee column, so it is written into the reason."""
        return f"assigned to {self.assignee}: {self.reason}" if self.assignee else self.reason


class IncidentSummary(BaseModel):
    """One row of the dispatchers' queue: the contract Incident without members and history."""

    id: str
    category: str
    grid_id: str | None
    grid_path: list[str]
    status: Status
    risk: Risk
    level: Level
    lat: float
    lon: float
    first_seen: UtcTime
    last_seen: UtcTime
    updated_at: UtcTime
    alert_ids: list[str]
    report_ids: list[str]
    allowed_actions: list[str]
    outside_grid: bool = False
    merged_into: str | None = None
    escalates_at: UtcTime | None = Field(None, description=ESCALATES_AT)
    escalated_at: UtcTime | None = Field(None, description="when it last went up a level; null if never")


class SnapshotLink(BaseModel):
    """An alert's evidence picture, served as image/jpeg at ``url``."""

    alert_id: str
    camera_id: str
    taken_at: UtcTime
    url: str


class IncidentPublic(Incident):
    """The full contract Incident (members say why each observation joined; history in ``seq`` order)."""

    updated_at: UtcTime
    allowed_actions: list[str]
    escalates_at: UtcTime | None = Field(None, description=ESCALATES_AT)
    escalated_at: UtcTime | None = Field(None, description="when it last went up a level; null if never")
    snapshots: list[SnapshotLink] = Field(
        default_factory=list, description="evidence pictures of the incident's alerts, oldest first"
    )


class AlertPublic(BaseModel):
    id: str
    category: str
    type: str
    device_id: str
    site_id: str
    lat: float
    lon: float
    confidence: float
    observed_at: UtcTime
    received_at: UtcTime
    attributes: dict[str, Any]
    grid_id: str | None
    grid_path: list[str]
    incident_id: str | None
    snapshot_url: str | None = Field(
        None, description="where the alert's evidence picture is served, when it has one"
    )


class ReportPublic(BaseModel):
    id: str
    category: str
    worker_id: str
    lat: float
    lon: float
    reported_at: UtcTime
    received_at: UtcTime
    text: str
    photos: list[str]
    accuracy_m: float | None
    grid_id: str | None
    grid_path: list[str]
    incident_id: str | None


class HeartbeatPublic(BaseModel):
    seen_at: UtcTime
    status: str
    attributes: dict[str, Any]


class DevicePublic(BaseModel):
    device_id: str
    site_id: str
    device_type: str
    status: str
    last_seen: UtcTime
    silent_s: float = Field(description="seconds since the device was last heard from")
    attributes: dict[str, Any]
    heartbeats: list[HeartbeatPublic] = Field(default_factory=list, description="newest first; detail view only")


class GridPublic(BaseModel):
    id: str
    name: str
    level: str
    parent_id: str | None


class GridDetail(GridPublic):
    geometry: dict[str, Any] = Field(description="GeoJSON Polygon or MultiPolygon")
    properties: dict[str, Any]
    map_version: str
    children: list[str]
    open_incidents: int = Field(description="incidents open, assigned or in progress in this grid or below")


class HourlyStat(BaseModel):
    bucket: UtcTime
    grid_id: str | None
    category: str
    alerts: int
    max_confidence: float


class DeadLetterPublic(BaseModel):
    id: int
    received_at: UtcTime
    source: str
    topic: str | None
    partition: int | None
    offset: int | None
    key: str | None
    reason: str
    payload: str
    context: dict[str, Any]


class Page(BaseModel, Generic[T]):
    """A slice of a list; ``total`` is counted where it is cheap (not over the time-series tables)."""

    items: list[T]
    limit: int
    offset: int
    total: int | None = None


class ComponentHealth(BaseModel):
    ok: bool
    status: str
    detail: str = ""


class Health(BaseModel):
    ok: bool
    database: ComponentHealth
    kafka: ComponentHealth
