"""The engine's compact view of an alert or report: what matching needs, nothing else."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from gridwatch.contracts import Alert, Observation, event_time
from ingest.engine.rules import EngineConfig


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
    severity: dict[str, Any] = field(default_factory=dict)  # an alert's attributes, read, never copied or changed
    stated_grid: str | None = None  # the grid a patrol report was filed under, if it says
    fix_grid: str | None = None  # with a stated grid: the grid of the report's own position fix


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
    return ObsReader(config).read(observation)


class ObsReader:
    """``to_obs`` for one ``EngineConfig``, with each category's default position error worked out once."""

    def __init__(self, config: EngineConfig) -> None:
        self.config = config
        self._max_m = config.uncertainty.max_m
        self._default_sigma: dict[str, float] = {}

    def _alert_sigma(self, category: str) -> float:
        """The position error of ``category``'s alerts when they state none."""
        default = self._default_sigma.get(category)
        if default is None:
            u, camera = self.config.uncertainty, self.config.rule(category).camera_sigma_m
            default = u.button_m if category == "alarm" else (u.camera_m if camera is None else camera)
            self._default_sigma[category] = default
        return default

    def read(self, observation: Observation) -> Obs:
        max_m = self._max_m
        if isinstance(observation, Alert):
            attrs, category = observation.attributes, observation.category
            sigma = _stated_accuracy(attrs) if "accuracy_m" in attrs else None
            if sigma is None:
                sigma = self._default_sigma.get(category) or self._alert_sigma(category)
            track = attrs.get("track_id")
            zone = attrs.get("zone")
            return Obs(
                observation.id, "alert", category, observation.type, observation.observed_at.timestamp(),
                observation.lat, observation.lon, sigma if sigma < max_m else max_m,  # min(max_m, sigma)
                observation.device_id, str(track) if track is not None else None,
                str(zone) if zone is not None else None, observation.confidence, attrs,
            )
        extra = observation.model_extra or {}
        sigma = _stated_accuracy(extra)
        return Obs(
            id=observation.id, kind="report", category=observation.category, type="patrol_report",
            t=event_time(observation).timestamp(), lat=observation.lat, lon=observation.lon,
            sigma_m=min(max_m, self.config.uncertainty.report_m if sigma is None else sigma),
            source=observation.worker_id, track=None, zone=None, confidence=1.0, stated_grid=_stated_grid(extra),
        )
