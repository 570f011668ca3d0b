"""A cluster as the contract Incident, computed from its members in canonical order only.

Everything here (id, position, grid, risk, why each member joined, when it was confirmed) is a
function of the set of members, so live ingest and replay, and any arrival order within the
lateness, give the same incident.
"""

from __future__ import annotations

import hashlib
import math
from collections import Counter
from datetime import UTC, datetime
from itertools import chain
from operator import attrgetter
from typing import Any, Final

import numpy as np

from gridwatch.contracts import Incident
from ingest.engine.cluster import Cluster
from ingest.engine.geo import METRES_PER_DEG_LAT, distance_m
from ingest.engine.links import Links
from ingest.engine.observation import Obs
from ingest.engine.rounding import round_to
from ingest.engine.rules import EngineConfig
from ingest.grids import GridAssignment, GridIndex

RISK_ORDER = ("green", "blue", "yellow", "orange", "red")
RISK_RANK = {risk: rank for rank, risk in enumerate(RISK_ORDER)}
TOP: Final = 4  # RISK_RANK["red"], as a constant compiled code needs no lookup for
ORANGE: Final = 3  # RISK_RANK["orange"]
assert (RISK_RANK["red"], RISK_RANK["orange"]) == (TOP, ORANGE), "TOP and ORANGE must follow RISK_ORDER"
WHY_LOOKBACK = 32  # members searched on each side (in time) for the reason a member joined
canonical = attrgetter("t", "id")  # the same order as ``Obs.key``: event time, then id


def incident_id_for(observation_id: str) -> str:
    """An incident is named after its earliest member, so every run names it the same."""
    return "i-" + hashlib.sha256(observation_id.encode()).hexdigest()[:24]


def raise_risk(risk: str, steps: int = 1) -> str:
    return RISK_ORDER[min(len(RISK_ORDER) - 1, RISK_ORDER.index(risk) + steps)]


def member_rank(obs: Obs, base: int) -> int:
    """The rank (in ``RISK_ORDER``) of the risk one observation calls for: its category's (``base``),
    raised by severity attributes."""
    s, category = obs.severity, obs.category
    if category == "fire" and obs.type == "smoke" and float(s.get("area_ratio", 0)) < 0.05:
        return ORANGE
    if category == "crowd":
        count = float(s.get("count", 0))
        return min(TOP, base + (count >= 30) + (count >= 80))
    if category == "parking":
        return min(TOP, base + (s.get("zone_kind") == "fire_lane") + (float(s.get("dwell_s", 0)) >= 7200))
    return base


def _risk(members: list[Obs], config: EngineConfig) -> str:
    """The highest risk any member calls for (the search stops at the top of the scale)."""
    highest = 0
    bases: dict[str, int] = {}  # each category's own rank, read from the config once an incident
    for obs in members:
        base = bases.get(obs.category)
        if base is None:
            base = bases[obs.category] = RISK_RANK[config.rule(obs.category).risk]
        rank = member_rank(obs, base)
        if rank > highest:
            highest = rank
            if rank == TOP:
                break
    return RISK_ORDER[highest]


def _time(t: float) -> datetime:
    return datetime.fromtimestamp(t, tz=UTC)


def _whys(members: list[Obs], links: Links) -> list[dict[str, Any]]:
    """``_why`` of every member, the usual answer (a link to the member just before) tried inline."""
    reason, whys = links.reason, [_why(members, 0, links)]
    for i in range(1, len(members)):
        obs = members[i]
        found = reason(obs, members[i - 1])
        if found is None:
            whys.append(_why(members, i, links))
        else:
            rule, distance, gap = found
            whys.append({"id": obs.id, "kind": "alert" if obs.kind == "alert" else "report", "rule": rule,
                         "distance_m": round_to(distance, 1), "gap_s": round_to(gap, 3)})
    return whys


def _why(members: list[Obs], i: int, links: Links) -> dict[str, Any]:
    """The rule tying member ``i`` to the member nearest to it in time that it links with
    (earlier ones first), with their distance and time gap: a ``Member``'s fields (the Incident
    validates them all in one call, much cheaper than a ``Member`` at a time)."""
    obs = members[i]
    kind = "alert" if obs.kind == "alert" else "report"
    if i == 0:
        return {"id": obs.id, "kind": kind, "rule": "first", "distance_m": 0.0, "gap_s": 0.0}
    found = links.reason(obs, members[i - 1])  # the usual answer: the member just before
    if found is None:
        earlier = range(i - 2, max(-1, i - 1 - WHY_LOOKBACK), -1)
        later = range(i + 1, min(len(members), i + 1 + WHY_LOOKBACK))
        found = next(filter(None, (links.reason(obs, members[j]) for j in chain(earlier, later))), None)
    if found is not None:
        rule, distance, gap = found
        return {"id": obs.id, "kind": kind, "rule": rule, "distance_m": round_to(distance, 1), "gap_s": round_to(gap, 3)}
    return {"id": obs.id, "kind": kind, "rule": "chain"}  # joined through a chain longer than the lookback


def _confirmation(members: list[Obs], config: EngineConfig) -> tuple[Obs, str]:
    """The member whose arrival (in event-time order) confirmed the cluster, and why."""
    probe = Cluster()
    for obs in members:
        probe.add(obs, config.corroborating)
        if probe.confirmed(config):
            break
    if obs.kind == "report" and probe.alerts == 0:
        return obs, f"patrol report {obs.id} by {obs.source}"
    if probe.alerts == 1:
        return obs, f"{obs.type} alert {obs.id} from {obs.source} (confidence {obs.confidence:.2f})"
    return obs, (f"confirmed by {probe.alerts} alerts from {len(probe.alert_sources)} device(s)"
                 f"{' and a patrol report' if probe.has_report else ''} over "
                 f"{(probe.last_alert_t or obs.t) - (probe.first_alert_t or obs.t):.0f} s")


def _placing(members: list[Obs], category: str, config: EngineConfig) -> list[Obs]:
    """The members that say where the event is: a button pressed to report a fire is where the
    person stood, not where the fire is, so corroborating members of another category do not count,
    as long as the incident's own members are an event by themselves (would be confirmed alone). A
    weak detection that only an alarm press confirmed is not: then the press, placed within metres, is
    the best word on where the call is, and all members place the incident by their precision."""
    own = [o for o in members if o.category == category]
    if not own or len(own) == len(members):
        return members
    return own if _confirmed_alone(own, config) else members


def _confirmed_alone(members: list[Obs], config: EngineConfig) -> bool:
    probe = Cluster()
    for obs in members:
        probe.add(obs, config.corroborating)
    return probe.confirmed(config)


def _centroid(members: list[Obs], outlier_sigmas: float) -> tuple[float, float, float]:
    """Position weighted by precision (1/sigma^2), summed in canonical order and rounded (~1 cm),
    and its own one-sigma error in metres. A member further than ``outlier_sigmas`` of its own error
    from that position (a stray detection linked in at the edge of the radius) pulls it off: then the
    position is taken again from the members within ``outlier_sigmas`` of the weighted median, which
    a minority of strays cannot pull (three members at least: the median of two is either one)."""
    lat, lon, sigma_m = _weighted_mean(members)
    if len(members) >= 3 and _any_beyond(members, lat, lon, outlier_sigmas):
        mlat, mlon = _weighted_median(members)
        kept = [o for o in members if _within(o, mlat, mlon, outlier_sigmas)]
        if kept:
            lat, lon, sigma_m = _weighted_mean(kept)
    return round(lat, 7), round(lon, 7), sigma_m


def _weight(obs: Obs) -> float:
    return 1.0 / max(obs.sigma_m, 0.5) ** 2


def _weighted_mean(members: list[Obs]) -> tuple[float, float, float]:
    wsum = lat = lon = 0.0
    for obs in members:
        w = 1.0 / max(obs.sigma_m, 0.5) ** 2  # ``_weight``, inline: this runs on every render
        wsum += w
        lat += w * obs.lat
        lon += w * obs.lon
    return lat / wsum, lon / wsum, wsum ** -0.5


def _weighted_median(members: list[Obs]) -> tuple[float, float]:
    """Latitude and longitude each at the point where half the members' precision lies either side."""
    return (_median([(o.lat, _weight(o)) for o in members]), _median([(o.lon, _weight(o)) for o in members]))


def _median(weighted: list[tuple[float, float]]) -> float:
    weighted.sort()
    half, total = 0.5 * sum(w for _, w in weighted), 0.0
    for value, w in weighted:
        total += w
        if total >= half:
            return value
    return weighted[-1][0]


def _within(obs: Obs, lat: float, lon: float, sigmas: float) -> bool:
    return distance_m(obs.lat, obs.lon, lat, lon) <= sigmas * max(obs.sigma_m, 0.5)


def _any_beyond(members: list[Obs], lat: float, lon: float, sigmas: float) -> bool:
    """Some member is further than ``sigmas`` of its own error from (lat, lon): squared planar
    distances with one cosine, as ``distance_m`` computes them, since this runs on every render."""
    per_lon = math.cos(math.radians(lat)) ** 2
    for obs in members:
        dy, dx, reach = obs.lat - lat, obs.lon - lon, sigmas * max(obs.sigma_m, 0.5) / METRES_PER_DEG_LAT
        if dy * dy + dx * dx * per_lon > reach * reach:
            return True
    return False


def _stated_grid(members: list[Obs]) -> str | None:
    """The grid the patrol corrected the reports to, if any. A filed grid other than the one of the
    report's own fix is a correction the worker made on purpose; a grid the app pre-filled from the fix
    and left as it was says no more than the fix, which the position already weighs by its accuracy, so
    it does not vote (two pre-filled grids either side of a border are then decided by the position,
    not by their ids). The grid corrected to most often wins, then the smallest id."""
    corrected: Counter[str] = Counter()
    for o in members:
        if o.stated_grid is not None and o.stated_grid != o.fix_grid:
            corrected[o.stated_grid] += 1
    best: str | None = None
    for grid, times in corrected.items():
        if best is None or (-times, grid) < (-corrected[best], best):
            best = grid
    return best


def _grid(members: list[Obs], lat: float, lon: float, sigma_m: float, found: GridAssignment, grids: GridIndex,
          config: EngineConfig) -> tuple[GridAssignment, bool]:
    """The finest grid holding the position (``found``), unless the patrol corrected its reports to a grid the
    position is within ``stated_grid_sigmas`` of its error from: the worker knows which side of a street the
    hazard is on better than a phone's GPS does. Returns the assignment and whether the stated grid won."""
    stated = _stated_grid(members)
    if stated is None or stated in found.path:
        return found, False
    assignment = grids.assignment_of(stated)
    if assignment is None:
        return found, False
    reach = config.uncertainty.stated_grid_sigmas * sigma_m
    return (assignment, True) if grids.distance_deg(stated, lat, lon) * METRES_PER_DEG_LAT <= reach else (found, False)


def render(cluster: Cluster, grids: GridIndex, links: Links) -> Incident:
    return render_many([cluster], grids, links)[0]


def render_many(clusters: list[Cluster], grids: GridIndex, links: Links) -> list[Incident]:
    """``render`` for many clusters, the grids of their positions looked up in bulk."""
    ordered = [sorted(c.members, key=canonical) for c in clusters]
    config = links.config
    outlier_sigmas = config.uncertainty.outlier_sigmas
    centroids = [_centroid(_placing(members, c.category, config), outlier_sigmas) for c, members in zip(clusters, ordered)]
    found = grids.assign_many(np.array([p[0] for p in centroids]), np.array([p[1] for p in centroids]))
    return [_incident(c, m, p, g, grids, links) for c, m, p, g in zip(clusters, ordered, centroids, found)]


def _incident(cluster: Cluster, members: list[Obs], centroid: tuple[float, float, float], found: GridAssignment,
              grids: GridIndex, links: Links) -> Incident:
    config = links.config
    lat, lon, sigma_m = centroid
    grid, as_stated = _grid(members, lat, lon, sigma_m, found, grids, config)
    confirmer, reason = _confirmation(members, config)
    if grid.outside:
        reason += "; outside every grid of the map"
    if as_stated:
        reason += f"; in grid {grid.grid_id} as filed by the patrol (position fix ±{sigma_m:.0f} m)"
    risk = _risk(members, config)
    return Incident(
        id=incident_id_for(members[0].id), category=cluster.category, grid_id=grid.grid_id, status="open",
        risk=risk, level="grid", lat=lat, lon=lon, first_seen=_time(members[0].t), last_seen=_time(members[-1].t),
        alert_ids=[o.id for o in members if o.kind == "alert"], report_ids=[o.id for o in members if o.kind == "report"],
        grid_path=list(grid.path), members=_whys(members, links),
        history=[{"at": _time(confirmer.t), "actor": "engine", "action": "raise", "status": "open", "reason": reason}],
        outside_grid=grid.outside,
    )
