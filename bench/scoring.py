"""Score incidents against a scenario's ground truth, and the naive baseline to compare with.

- precision: incidents that are exactly one real event / all incidents; an incident holding one real
  event's observations and also a stray false detection is still that one event (the dispatcher
  goes to the right place once); ``strict_precision`` counts it as wrong too
- recall: real events with an observation that ended up in some incident / real events with an observation
- duplication: incidents that are one real event / distinct events they cover (1.0 = no duplicates)
- grid accuracy: of the incidents that are one real event, those in the event's own finest grid
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, fields

from bench.scenario import Scenario
from gridwatch.contracts import Incident, Observation, event_time
from ingest.engine.geo import distance_m
from ingest.grids import GridIndex


@dataclass(frozen=True)
class Scores:
    """The counts behind the four figures, so that scenarios can be pooled by adding them."""
    incidents: int
    events: int  # real events with an observation
    true_incidents: int  # incidents that are exactly one real event
    strict_incidents: int  # ... and hold no false detection
    recalled: int  # real events with an observation in some incident
    covered: int  # distinct events the true incidents are
    right_grid: int  # true incidents in their event's finest grid

    @property
    def precision(self) -> float:
        return self.true_incidents / max(1, self.incidents)

    @property
    def strict_precision(self) -> float:
        return self.strict_incidents / max(1, self.incidents)

    @property
    def recall(self) -> float:
        return self.recalled / max(1, self.events)

    @property
    def duplication(self) -> float:
        return self.true_incidents / max(1, self.covered)

    @property
    def grid_accuracy(self) -> float:
        return self.right_grid / max(1, self.true_incidents)

    def __add__(self, other: Scores) -> Scores:
        return Scores(*(getattr(self, f.name) + getattr(other, f.name) for f in fields(Scores)))

    def row(self, name: str) -> str:
        return (f"{name:<10} incidents {self.incidents:5d}  events {self.events:5d}  precision {self.precision:.3f} (strict {self.strict_precision:.3f})  "
                f"recall {self.recall:.3f}  duplication {self.duplication:.3f}  grid accuracy {self.grid_accuracy:.3f}")


def score(incidents: list[Incident], scenario: Scenario, grids: GridIndex) -> Scores:
    observed_events = {e for e in scenario.truth.values() if e is not None}
    recalled: set[str] = set()
    true_incidents, right_grid, strict = 0, 0, 0
    covered: set[str] = set()
    for incident in incidents:
        sources = {scenario.truth[m] for m in (*incident.alert_ids, *incident.report_ids)}
        events = sources - {None}
        recalled |= events  # type: ignore[arg-type]
        if len(events) != 1:
            continue
        strict += None not in sources
        (event_id,) = events
        true_incidents += 1
        covered.add(event_id)  # type: ignore[arg-type]
        event = scenario.events[event_id]  # type: ignore[index]
        right_grid += incident.grid_id == grids.assign(event.lat, event.lon).grid_id
    return Scores(incidents=len(incidents), events=len(observed_events), true_incidents=true_incidents,
                  strict_incidents=strict, recalled=len(recalled & observed_events), covered=len(covered),
                  right_grid=right_grid)


def naive_baseline(observations: list[Observation], grids: GridIndex,
                   radius_m: float = 50.0, window_s: float = 1800.0) -> list[Incident]:
    """Cluster by category within 50 m of a cluster's first member and 30 min of its last, in
    arrival order; every cluster is an incident (no confirmation, no dedupe by id)."""
    clusters: dict[str, list[list[Observation]]] = defaultdict(list)
    for obs in observations:
        t = event_time(obs).timestamp()
        for cluster in clusters[obs.category]:
            first, last = cluster[0], cluster[-1]
            if abs(t - event_time(last).timestamp()) <= window_s and \
                    distance_m(obs.lat, obs.lon, first.lat, first.lon) <= radius_m:
                cluster.append(obs)
                break
        else:
            clusters[obs.category].append([obs])
    incidents = []
    for category, groups in clusters.items():
        for n, group in enumerate(groups):
            first = group[0]
            times = [event_time(o) for o in group]
            incidents.append(Incident(
                id=f"baseline-{category}-{n}", category=category, grid_id=grids.assign(first.lat, first.lon).grid_id,
                risk="green", lat=first.lat, lon=first.lon, first_seen=min(times), last_seen=max(times),
                alert_ids=[o.id for o in group if o.kind == "alert"], report_ids=[o.id for o in group if o.kind == "report"],
            ))
    return incidents
