"""When are two observations evidence of one event? A symmetric relation, so that the incidents,
as connected groups of observations, do not depend on the order in which they arrive."""

from __future__ import annotations

from dataclasses import dataclass

from ingest.engine.geo import distance_m
from ingest.engine.observation import Obs
from ingest.engine.rules import CategoryRule, EngineConfig


@dataclass(frozen=True, slots=True)
class Link:
    rule: str  # "same_track", "same_device", "near" or "corroborates"
    distance_m: float
    gap_s: float


def link_rule(a: Obs, b: Obs, config: EngineConfig) -> tuple[CategoryRule, bool] | None:
    """The rule that governs a pair, and whether it is a cross-category corroboration."""
    if a.category == b.category:
        return config.rule(a.category), False
    if "device" in (a.category, b.category):
        return None
    for one, other in ((a, b), (b, a)):
        if one.category in config.corroborating and other.category in config.corroborated:
            return config.rule(one.category), True
    return None


def link(a: Obs, b: Obs, config: EngineConfig) -> Link | None:
    """The reason ``a`` and ``b`` are one event, or None."""
    found = link_rule(a, b, config)
    if found is None:
        return None
    rule, corroborates = found
    gap = abs(a.t - b.t)
    if gap > rule.window_s:
        return None
    same_source = a.source == b.source
    distance = distance_m(a.lat, a.lon, b.lat, b.lon)
    if same_source and a.track is not None and b.track is not None:
        if a.track == b.track:
            return Link("same_track", distance, gap)
        if rule.track_separation_m and distance > rule.track_separation_m:
            return None  # two objects one camera tells apart
    if a.category == "device" and not same_source:
        return None
    radius = min(rule.radius_m, config.corroboration_radius_m) if corroborates else rule.radius_m
    if distance > radius + a.sigma_m + b.sigma_m:
        return None
    if corroborates:
        return Link("corroborates", distance, gap)
    return Link("same_device" if same_source else "near", distance, gap)
