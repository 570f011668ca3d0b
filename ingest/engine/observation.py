"""The engine's compact view of an alert or report: what matching needs, nothing else."""

from __future__ import annotations

from typing import Any, final

from gridwatch.contracts import Alert, Observation
from ingest.engine.rules import EngineConfig


@final
class Obs:
    """An alert or report as matching sees it.

    A plain class with its own ``__init__`` rather than a dataclass: mypyc compiles this one (a
    dataclass's generated ``__init__`` runs interpreted), and one is made per observation."""

    __slots__ = ("id", "kind", "category", "type", "t", "lat", "lon", "sigma_m", "source", "track", "zone",
                 "confidence", "severity", "stated_grid", "fix_grid")

    def __init__(self, id: str, kind: str, category: str, type: str, t: float, lat: float, lon: float,
                 sigma_m: float, source: str, track: str | None, zone: str | None, confidence: float,
                 severity: dict[str, Any] | None = None, stated_grid: str | None = None,
                 fix_grid: str | None = None) -> None:
        self.id = id
        self.kind = kind  # "alert" or "report"
        self.category = category
        self.type = type
        self.t = t  # event time, seconds since the epoch
        self.lat = lat
        self.lon = lon
        self.sigma_m = sigma_m  # one-sigma position error
        self.source = source  # device id, or worker id for a report
        self.track = track
        self.zone = zone
        self.confidence = confidence
        self.severity: dict[str, Any] = {} if severity is None else severity  # an alert's attributes, read, never copied or changed
        self.stated_grid = stated_grid  # the grid a patrol report was filed under, if it says
        self.fix_grid = fix_grid  # with a stated grid: the grid of the report's own position fix

    def __repr__(self) -> str:
        return f"Obs({self.id!r}, {self.kind!r}, {self.category!r}, t={self.t!r}, lat={self.lat!r}, lon={self.lon!r})"

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
        # The fields from the model's ``__dict__``, where pydantic keeps them: one attribute lookup
        # rather than one a field, each through the models' ``__getattr__`` hook (this runs once an observation).
        fields: dict[str, Any] = observation.__dict__
        max_m = self._max_m
        if isinstance(observation, Alert):
            attrs: dict[str, Any] = fields["attributes"]
            category: str = fields["category"]
            sigma = _stated_accuracy(attrs) if "accuracy_m" in attrs else None
            if sigma is None:
                sigma = self._default_sigma.get(category) or self._alert_sigma(category)
            track = attrs.get("track_id")
            zone = attrs.get("zone")
            return Obs(
                fields["id"], "alert", category, fields["type"], fields["observed_at"].timestamp(),
                fields["lat"], fields["lon"], sigma if sigma < max_m else max_m,  # min(max_m, sigma)
                fields["device_id"], str(track) if track is not None else None,
                str(zone) if zone is not None else None, fields["confidence"], attrs,
            )
        extra = observation.model_extra or {}
        sigma = _stated_accuracy(extra)
        return Obs(
            id=fields["id"], kind="report", category=fields["category"], type="patrol_report",
            t=fields["reported_at"].timestamp(), lat=fields["lat"], lon=fields["lon"],
            sigma_m=min(max_m, self.config.uncertainty.report_m if sigma is None else sigma),
            source=fields["worker_id"], track=None, zone=None, confidence=1.0, stated_grid=_stated_grid(extra),
        )
