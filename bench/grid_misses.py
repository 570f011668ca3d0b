"""Every incident the engine put in the wrong grid on simulated districts, with what the engine knew,
and a count per cause: what to read before changing how the engine places incidents
(``ingest/engine/render.py``). Tune and analyse on seeds the accuracy targets are not scored on.

    .venv/bin/python -m bench.grid_misses --seeds 11 12 13

Each miss gives the event's distance to the grid it was put in (how close to a border it was) and the
incident position's error, then each member: kind, category, device or worker, confidence, stated
accuracy, its distance from the event and whether its own position is in the event's grid; for a
report, whether the grid it was filed under is right and whether the worker corrected the grid the app
pre-filled from the fix. A member no event produced (a false detection) is marked ``false``.
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from dataclasses import dataclass

from bench.scenario import Event, Scenario, add_district_arguments, districts
from gridwatch.contracts import Alert, Incident, Observation
from ingest.engine import IncidentEngine
from ingest.engine.geo import METRES_PER_DEG_LAT, distance_m
from ingest.grids import GridIndex
from ingest.replay import ReplaySummary, replay


@dataclass(frozen=True)
class Miss:
    seed: int
    incident: Incident
    event: Event
    true_grid: str | None
    members: list[Observation]
    cause: str


def filed_grid(observation: Observation) -> str | None:
    value = (observation.model_extra or {}).get("grid_id") if not isinstance(observation, Alert) else None
    return value if isinstance(value, str) else None


def cause_of(members: list[Observation], truth: dict[str, str | None], true_grid: str | None,
             grids: GridIndex) -> str:
    """What kind of evidence the incident had; for reports, whether a worker corrected a grid."""
    reports = [o for o in members if not isinstance(o, Alert)]
    corrections = [filed_grid(r) for r in reports if filed_grid(r) not in (None, grids.assign(r.lat, r.lon).grid_id)]
    false = any(truth[o.id] is None for o in members)
    if true_grid in corrections:
        return "a correction to the right grid not taken"
    if corrections:
        return "a correction to a wrong grid"
    if not reports:
        return "cameras/buttons only" + (", with a false detection" if false else "")
    if len(reports) == len(members):
        return "one patrol report, pre-filled grid kept" if len(reports) == 1 else \
            "patrol reports only, pre-filled grids kept"
    return "alerts and reports, pre-filled grids kept"


def misses(seed: int, scenario: Scenario, grids: GridIndex) -> list[Miss]:
    incidents = replay(scenario.observations, IncidentEngine(grids), ReplaySummary())
    by_id = {o.id: o for o in scenario.observations}
    found = []
    for incident in incidents:
        ids = [*incident.alert_ids, *incident.report_ids]
        events = {scenario.truth[i] for i in ids} - {None}
        if len(events) != 1:
            continue  # not one real event: scored by precision, not grid accuracy
        event = scenario.events[events.pop()]  # type: ignore[index]
        true_grid = grids.assign(event.lat, event.lon).grid_id
        if incident.grid_id != true_grid:
            members = [by_id[i] for i in ids]
            found.append(Miss(seed, incident, event, true_grid, members,
                              cause_of(members, scenario.truth, true_grid, grids)))
    return found


def describe(miss: Miss, truth: dict[str, str | None], grids: GridIndex, limit: int) -> list[str]:
    incident, event = miss.incident, miss.event
    across = grids.distance_deg(incident.grid_id, event.lat, event.lon) * METRES_PER_DEG_LAT if incident.grid_id else 0.0
    lines = [f"seed {miss.seed} {incident.category} {incident.id}: in {incident.grid_id}, event in {miss.true_grid} "
             f"{across:.1f} m from it; position {distance_m(incident.lat, incident.lon, event.lat, event.lon):.1f} m off; "
             f"{len(miss.members)} member(s); {miss.cause}"]
    for o in miss.members[:limit]:
        fix_grid = grids.assign(o.lat, o.lon).grid_id
        head = (f"    {'alert' if isinstance(o, Alert) else 'report'} {o.category} "
                f"{o.device_id if isinstance(o, Alert) else o.worker_id}"
                f"{' false' if truth[o.id] is None else ''}: {distance_m(o.lat, o.lon, event.lat, event.lon):.1f} m from "
                f"the event, own position in its grid {fix_grid == miss.true_grid}")
        if isinstance(o, Alert):
            lines.append(head + f", confidence {o.confidence:.2f}, accuracy {o.attributes.get('accuracy_m', '-')}")
        else:
            filed = filed_grid(o)
            lines.append(head + f", accuracy {(o.model_extra or {}).get('accuracy_m', '-')}, filed grid right "
                                f"{filed == miss.true_grid}, corrected {filed not in (None, fix_grid)}")
    if len(miss.members) > limit:
        inside = sum(grids.assign(o.lat, o.lon).grid_id == miss.true_grid for o in miss.members)
        lines.append(f"    ... {len(miss.members) - limit} more; {inside} of all {len(miss.members)} members' own "
                     f"positions are in the event's grid")
    return lines


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_district_arguments(parser, seeds=[11, 12, 13])
    parser.add_argument("--members", type=int, default=6, help="members listed per miss")
    args = parser.parse_args()
    causes: Counter[str] = Counter()
    for seed, scenario, grids in districts(args):
        found = misses(seed, scenario, grids)
        for miss in found:
            print("\n".join(describe(miss, scenario.truth, grids, args.members)))
            causes[miss.cause] += 1
        print(f"seed {seed}: {len(found)} grid miss(es)")
    print("misses per cause: " + "; ".join(f"{cause} {n}" for cause, n in causes.most_common()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
