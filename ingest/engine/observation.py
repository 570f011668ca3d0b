"""The engine's compact view of an alert or report: what matching needs, nothing else."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from gridwatch.contracts import Alert, Observation, event_time
from ingest.engine.rules import EngineConfig

SEVERITY_KEYS = ("count", "dwell_s", "area_ratio", "growth", "zone_kind")


@dataclass(slots=True)
class Obs:
    id: str
    kind: str  # "alert" or "report"
    category: str
    type: str
    t: float  # event time, seconds since the epoch
    lat: float
    lon: float
    sigma_m: float  # one-sigma position error
    source: str  # device id, or worker id for a report
    track: str | None
    zone: str | None
    confidence: float
    severity: dict[str, Any] = field(default_factory=dict)
    stated_grid: str | None = None  # the grid a patrol report was filed under, if it says


    @property
    def key(self) -> tuple[float, str]:
        """The canonical order of observations: event time, then id."""
        return (self.t, self.id)


def _stated_grid(extra: dict[str, Any]) -> str | None:
    value = extra.get("grid_id")
    return value if isinstance(value, str) and value else None


def _stated_accuracy(attributes: dict[str, Any]) -> float | None:
    value = attributes.get("accuracy_m")
    return float(value) if isinstance(value, (int, float)) and value >= 0 else None


def to_obs(observation: Observation, config: EngineConfig) -> Obs:
    u = config.uncertainty
    if isinstance(observation, Alert):
        attrs = observation.attributes
        camera = config.rule(observation.category).camera_sigma_m
        default = u.button_m if observation.category == "alarm" else (u.camera_m if camera is None else camera)
        sigma = _stated_accuracy(attrs)
        track = attrs.get("track_id")
        zone = attrs.get("zone")
        return Obs(
            id=observation.id, kind="alert", category=observation.category, type=observation.type,
            t=event_time(observation).timestamp(), lat=observation.lat, lon=observation.lon,
            sigma_m=min(u.max_m, default if sigma is None else sigma), source=observation.device_id,
            track=str(track) if track is not None else None, zone=str(zone) if zone is not None else None,
            confidence=observation.confidence, severity={k: attrs[k] for k in SEVERITY_KEYS if k in attrs},
        )
    extra = observation.model_extra or {}
    sigma = _stated_accuracy(extra)
    return Obs(
        id=observation.id, kind="report", category=observation.category, type="patrol_report",
        t=event_time(observation).timestamp(), lat=observation.lat, lon=observation.lon,
        sigma_m=min(u.max_m, u.report_m if sigma is None else sigma), source=observation.worker_id,
        track=None, zone=None, confidence=1.0, stated_grid=_stated_grid(extra),
    )
