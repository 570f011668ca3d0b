"""Groups of linked observations (connected components) and the monotone facts about them.

Every fact kept here (count, devices, span, strongest confidence, a report among them) only grows
as members join, so whether a group is confirmed does not depend on the order members arrived in.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from ingest.engine.observation import Obs
from ingest.engine.rules import EngineConfig


@dataclass(eq=False)
class Cluster:
    members: list[Obs] = field(default_factory=list)
    alert_sources: dict[str, float] = field(default_factory=dict)  # device -> its strongest alert
    has_report: bool = False
    max_confidence: float = 0.0
    first_alert_t: float | None = None
    last_alert_t: float | None = None
    alerts: int = 0
    live: int = 0  # members still in the spatial index (able to link with newcomers)
    published: set[str] = field(default_factory=set)  # incident ids this group was stored under
    status: str = "open"
    box: list[float] = field(default_factory=lambda: [math.inf, -math.inf, math.inf, -math.inf, math.inf, -math.inf])
    # min/max of t, lat, lon over members: lets the engine skip a whole cluster at once
    first_any: tuple[tuple[float, str], str] | None = None  # (key, category) of the earliest member
    first_primary: tuple[tuple[float, str], str] | None = None  # ... of the earliest non-corroborating one

    def add(self, obs: Obs, corroborating: tuple[str, ...] = ()) -> None:
        # Plain comparisons rather than min()/max(): the same values (ties keep the old one), and
        # this runs once per observation.
        self.members.append(obs)
        self.live += 1
        b, t, lat, lon = self.box, obs.t, obs.lat, obs.lon
        if t < b[0]:
            b[0] = t
        if t > b[1]:
            b[1] = t
        if lat < b[2]:
            b[2] = lat
        if lat > b[3]:
            b[3] = lat
        if lon < b[4]:
            b[4] = lon
        if lon > b[5]:
            b[5] = lon
        mark = ((t, obs.id), obs.category)
        if self.first_any is None or mark < self.first_any:
            self.first_any = mark
        if obs.category not in corroborating and (self.first_primary is None or mark < self.first_primary):
            self.first_primary = mark
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
        if self.first_alert_t is None or t < self.first_alert_t:
            self.first_alert_t = t
        if self.last_alert_t is None or t > self.last_alert_t:
            self.last_alert_t = t

    def absorb(self, other: "Cluster") -> None:
        """Take over ``other``'s members and facts (``other`` is then discarded)."""
        self.members.extend(other.members)
        self.live += other.live
        mine, theirs = self.box, other.box
        self.box = [min(mine[0], theirs[0]), max(mine[1], theirs[1]), min(mine[2], theirs[2]),
                    max(mine[3], theirs[3]), min(mine[4], theirs[4]), max(mine[5], theirs[5])]
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
        for name in ("first_any", "first_primary"):  # (names of their own: mypyc types ``mine`` as the box above)
            own, taken = getattr(self, name), getattr(other, name)
            setattr(self, name, min(x for x in (own, taken) if x is not None) if (own or taken) else None)

    def may_reach(self, obs: Obs, window_s: float, reach_deg: float) -> bool:
        """False when no member can be within ``window_s`` and ``reach_deg`` (a cheap bound)."""
        b = self.box
        return (b[0] - window_s <= obs.t <= b[1] + window_s and b[2] - reach_deg <= obs.lat <= b[3] + reach_deg
                and b[4] - 4 * reach_deg <= obs.lon <= b[5] + 4 * reach_deg)  # 4: longitude degrees are longer, to 75 deg N/S

    @property
    def category(self) -> str:
        """The category of the earliest non-corroborating member (an alarm near a fire is a fire)."""
        mark = self.first_primary or self.first_any
        assert mark is not None, "an empty cluster has no category"
        return mark[1]

    def confirmed(self, config: EngineConfig) -> bool:
        c = config.rule(self.category).confirm
        if self.has_report and (c.by_report or self.alerts == 0):
            return True
        if self.max_confidence >= c.immediate_confidence:
            return True
        if sum(conf >= c.device_confidence for conf in self.alert_sources.values()) >= c.min_devices:
            return True
        span = (self.last_alert_t or 0.0) - (self.first_alert_t or 0.0)
        return self.alerts >= c.min_alerts and span >= c.min_duration_s


STATUS_PRIORITY = ("in_progress", "assigned", "open", "resolved", "closed", "dismissed")


def most_active(a: str, b: str) -> str:
    """When two incidents merge, the one being worked on sets the status of the result."""
    return a if STATUS_PRIORITY.index(a) <= STATUS_PRIORITY.index(b) else b
