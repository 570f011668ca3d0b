"""When two observations are evidence of one event: the link relation.

The relation is symmetric (``link(a, b)`` and ``link(b, a)`` agree on whether they link), which is
what lets the engine build the same clusters whichever order observations arrive in.

It is asked tens of thousands of times a replay, so ``Links`` looks each pair of categories' rule up
once and keeps it; the decision itself reads only the two observations and that rule.
"""

from __future__ import annotations

from dataclasses import dataclass

from ingest.engine.geo import distance_m
from ingest.engine.observation import Obs
from ingest.engine.rules import EngineConfig


@dataclass(frozen=True, slots=True)
class Link:
    rule: str  # "same_track", "same_device", "near" or "corroborates"
    distance_m: float
    gap_s: float


@dataclass(frozen=True, slots=True)
class PairRule:
    """What governs a pair of categories: the category's rule, or the corroborating one's."""

    window_s: float
    radius_m: float  # a corroboration's no further than ``corroboration_radius_m``
    track_separation_m: float
    corroborates: bool  # a cross-category corroboration (an alarm near a fire)
    devices: bool  # two device-health alerts: only one device's own alerts link


def pair_rule(category_a: str, category_b: str, config: EngineConfig) -> PairRule | None:
    """The rule that governs a pair of categories, or None when they never link."""
    if category_a == category_b:
        rule, corroborates = config.rule(category_a), False
    elif "device" in (category_a, category_b):
        return None
    elif category_a in config.corroborating and category_b in config.corroborated:
        rule, corroborates = config.rule(category_a), True
    elif category_b in config.corroborating and category_a in config.corroborated:
        rule, corroborates = config.rule(category_b), True
    else:
        return None
    radius = min(rule.radius_m, config.corroboration_radius_m) if corroborates else rule.radius_m
    return PairRule(rule.window_s, radius, rule.track_separation_m, corroborates, category_a == "device")


def reason_under(a: Obs, b: Obs, rule: PairRule) -> tuple[str, float, float] | None:
    """``Links.reason`` when the caller has the pair's rule (``rule(a.category, b.category)``) at hand
    (a function of the module, which compiled code calls directly)."""
    gap = abs(a.t - b.t)
    if gap > rule.window_s:
        return None
    same_source = a.source == b.source
    distance = distance_m(a.lat, a.lon, b.lat, b.lon)
    if same_source and a.track is not None and b.track is not None:
        if a.track == b.track:
            return "same_track", distance, gap
        if rule.track_separation_m and distance > rule.track_separation_m:
            return None  # two objects one camera tells apart
    if rule.devices and not same_source:
        return None
    if distance > rule.radius_m + a.sigma_m + b.sigma_m:
        return None
    if rule.corroborates:
        return "corroborates", distance, gap
    return ("same_device" if same_source else "near"), distance, gap


class Links:
    """The link relation under one ``EngineConfig``, with each pair of categories' rule cached."""

    def __init__(self, config: EngineConfig) -> None:
        self.config = config
        self._pairs: dict[tuple[str, str], PairRule | None] = {}

    def rule(self, category_a: str, category_b: str) -> PairRule | None:
        key = (category_a, category_b)
        try:
            return self._pairs[key]
        except KeyError:
            found = self._pairs[key] = pair_rule(category_a, category_b, self.config)
            return found

    def reason(self, a: Obs, b: Obs) -> tuple[str, float, float] | None:
        """Why ``a`` and ``b`` are one event, as (rule, distance in m, gap in s), or None."""
        try:  # ``rule`` inline: an incident asks this for every member
            rule = self._pairs[(a.category, b.category)]
        except KeyError:
            rule = self.rule(a.category, b.category)
        return None if rule is None else reason_under(a, b, rule)

    def link(self, a: Obs, b: Obs) -> Link | None:
        """The reason ``a`` and ``b`` are one event, or None."""
        found = self.reason(a, b)
        return None if found is None else Link(*found)


def link(a: Obs, b: Obs, config: EngineConfig) -> Link | None:
    """One-off form of ``Links(config).link(a, b)``."""
    return Links(config).link(a, b)
