"""Groups of linked observations (connected components) and the monotone facts about them.

Every fact kept here (count, devices, span, strongest confidence, a report among them) only grows
as members join, so whether a group is confirmed does not depend on the order members arrived in.
"""

from __future__ import annotations

import math
from typing import final

from ingest.engine.observation import Obs
from ingest.engine.rules import EngineConfig


@final
class Cluster:
    """A plain class with its own ``__init__`` rather than a dataclass: mypyc compiles this one (a
    dataclass's generated ``__init__`` runs interpreted), and one is made for most observations.
    Compared by identity."""

    __slots__ = ("members", "alert_sources", "has_report", "max_confidence", "first_alert_t", "last_alert_t", "alerts",
                 "live", "published", "status", "t_min", "t_max", "lat_min", "lat_max", "lon_min", "lon_max",
                 "first_any", "first_primary")

    def __init__(self) -> None:
        self.members: list[Obs] = []
        self.alert_sources: dict[str, float] = {}  # device -> its strongest alert
        self.has_report = False
        self.max_confidence = 0.0
        self.first_alert_t: float | None = None
        self.last_alert_t: float | None = None
        self.alerts = 0
        self.live = 0  # members still in the spatial index (able to link with newcomers)
        self.published: set[str] = set()  # incident ids this group was stored under
        self.status = "open"
        # The box of the members' event times and positions: lets the engine skip a whole cluster at once.
        self.t_min, self.t_max = math.inf, -math.inf
        self.lat_min, self.lat_max = math.inf, -math.inf
        self.lon_min, self.lon_max = math.inf, -math.inf
        self.first_any: Obs | None = None  # the earliest member (``earlier``)
        self.first_primary: Obs | None = None  # ... the earliest non-corroborating one

    def add(self, obs: Obs, corroborating: tuple[str, ...] = ()) -> None:
        # Plain comparisons rather than min()/max(): the same values (ties keep the old one), and
        # this runs once per observation.
        self.members.append(obs)
        self.live += 1
        t, lat, lon = obs.t, obs.lat, obs.lon
        if t < self.t_min:
            self.t_min = t
        if t > self.t_max:
            self.t_max = t
        if lat < self.lat_min:
            self.lat_min = lat
        if lat > self.lat_max:
            self.lat_max = lat
        if lon < self.lon_min:
            self.lon_min = lon
        if lon > self.lon_max:
            self.lon_max = lon
        first = self.first_any
        if first is None or earlier(obs, first):
            self.first_any = obs
        if obs.category not in corroborating:
            first = self.first_primary
            if first is None or earlier(obs, first):
                self.first_primary = obs
        if obs.kind == "report":
            self.has_report = True
            return
        self.alerts += 1
        confidence, sources = obs.confidence, self.alert_sources
        held = sources.get(obs.source)
        if held is None:
            sources[obs.source] = confidence if confidence > 0.0 else 0.0
        elif confidence > held:
            sources[obs.source] = confidence
        if confidence > self.max_confidence:
            self.max_confidence = confidence
        first_alert_t = self.first_alert_t
        if first_alert_t is None or t < first_alert_t:
            self.first_alert_t = t
        last_alert_t = self.last_alert_t
        if last_alert_t is None or t > last_alert_t:
            self.last_alert_t = t

    def absorb(self, other: Cluster) -> None:
        """Take over ``other``'s members and facts (``other`` is then discarded)."""
        self.members.extend(other.members)
        self.live += other.live
        # ``b if b < a else a`` is ``min(a, b)`` (ties keep ``a``), and likewise for ``max``
        self.t_min = other.t_min if other.t_min < self.t_min else self.t_min
        self.t_max = other.t_max if other.t_max > self.t_max else self.t_max
        self.lat_min = other.lat_min if other.lat_min < self.lat_min else self.lat_min
        self.lat_max = other.lat_max if other.lat_max > self.lat_max else self.lat_max
        self.lon_min = other.lon_min if other.lon_min < self.lon_min else self.lon_min
        self.lon_max = other.lon_max if other.lon_max > self.lon_max else self.lon_max
        for source, confidence in other.alert_sources.items():
            self.alert_sources[source] = max(self.alert_sources.get(source, 0.0), confidence)
        self.has_report = self.has_report or other.has_report
        self.max_confidence = max(self.max_confidence, other.max_confidence)
        self.alerts += other.alerts
        for t in (other.first_alert_t, other.last_alert_t):
            if t is not None:
                self.first_alert_t = t if self.first_alert_t is None else min(self.first_alert_t, t)
                self.last_alert_t = t if self.last_alert_t is None else max(self.last_alert_t, t)
        self.published |= other.published
        self.status = most_active(self.status, other.status)
        self.first_any = earliest(self.first_any, other.first_any)
        self.first_primary = earliest(self.first_primary, other.first_primary)

    def may_reach(self, obs: Obs, window_s: float, reach_deg: float) -> bool:
        """False when no member can be within ``window_s`` and ``reach_deg`` (a cheap bound)."""
        return (self.t_min - window_s <= obs.t <= self.t_max + window_s
                and self.lat_min - reach_deg <= obs.lat <= self.lat_max + reach_deg
                and self.lon_min - 4 * reach_deg <= obs.lon <= self.lon_max + 4 * reach_deg)  # 4: longitude degrees are longer, to 75 deg N/S

    @property
    def category(self) -> str:
        """The category of the earliest non-corroborating member (an alarm near a fire is a fire)."""
        first = self.first_primary or self.first_any
        assert first is not None, "an empty cluster has no category"
        return first.category

    def confirmed(self, config: EngineConfig) -> bool:
        c = config.rule(self.category).confirm
        if self.has_report and (c.by_report or self.alerts == 0):
            return True
        if self.max_confidence >= c.immediate_confidence:
            return True
        devices, device_confidence = 0, c.device_confidence  # a loop, not sum() over a generator: this runs often
        for confidence in self.alert_sources.values():
            if confidence >= device_confidence:
                devices += 1
        if devices >= c.min_devices:
            return True
        span = (self.last_alert_t or 0.0) - (self.first_alert_t or 0.0)
        return self.alerts >= c.min_alerts and span >= c.min_duration_s


def earlier(a: Obs, b: Obs) -> bool:
    """``a`` comes before ``b`` in the canonical order (event time, then id; then category, for two
    copies of one id): ``((a.t, a.id), a.category) < ((b.t, b.id), b.category)`` without the tuples."""
    if a.t != b.t:
        return a.t < b.t
    if a.id != b.id:
        return a.id < b.id
    return a.category < b.category


def earliest(a: Obs | None, b: Obs | None) -> Obs | None:
    """The earlier of two (``a`` on a tie), either of which may be missing."""
    if a is None:
        return b
    return b if b is not None and earlier(b, a) else a


STATUS_PRIORITY = ("in_progress", "assigned", "open", "resolved", "closed", "dismissed")


def most_active(a: str, b: str) -> str:
    """When two incidents merge, the one being worked on sets the status of the result."""
    return a if STATUS_PRIORITY.index(a) <= STATUS_PRIORITY.index(b) else b
