"""The incident engine: observations in, incident changes out. Pure and deterministic.

It reads no clock and does no I/O: time is the observations' own event time, and the same
sequence of observations gives the same incidents, whether it comes from Kafka (``ingest``) or
from a file (``gridwatch replay``).

This first version merges an observation into the nearest active incident of its category within
the category's radius and time window, and otherwise raises a new incident at once.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from gridwatch.contracts import Alert, Incident, Observation, event_time
from ingest.engine.geo import cell_of, distance_m, neighbour_cells
from ingest.engine.rules import EngineConfig
from ingest.engine.state import ActiveIncident, EngineState, higher_risk
from ingest.grids import GridAssignment, GridIndex

Cell = tuple[int, int]
PRUNE_EVERY = timedelta(seconds=60)


@dataclass(frozen=True)
class Outcome:
    """What the engine did with one observation."""

    observation: Observation
    grid: GridAssignment
    incident_id: str | None
    created: bool = False
    duplicate: bool = False


@dataclass
class BatchResult:
    outcomes: list[Outcome] = field(default_factory=list)
    touched: dict[str, Incident] = field(default_factory=dict)  # final state of each changed incident


def incident_id_for(observation_id: str) -> str:
    """An incident's id follows from its first member, so live ingest and replay agree."""
    return "i-" + hashlib.sha256(observation_id.encode()).hexdigest()[:24]


def describe(observation: Observation) -> str:
    if isinstance(observation, Alert):
        return f"{observation.type} alert {observation.id} from {observation.device_id} (confidence {observation.confidence:.2f})"
    return f"patrol report {observation.id} by {observation.worker_id}"


class IncidentEngine:
    def __init__(self, grids: GridIndex, config: EngineConfig | None = None, state: EngineState | None = None) -> None:
        self.grids = grids
        self.config = config or EngineConfig()
        self.state = state or EngineState()
        self._cells: dict[str, dict[Cell, set[str]]] = defaultdict(lambda: defaultdict(set))
        for incident in self.state.active.values():
            self._index(incident)

    # -- public -------------------------------------------------------------------------------
    def process_batch(self, observations: list[Observation], grids: list[GridAssignment] | None = None) -> BatchResult:
        result = BatchResult()
        for i, observation in enumerate(observations):
            outcome = self.process(observation, grids[i] if grids else None)
            result.outcomes.append(outcome)
            if outcome.incident_id is not None and not outcome.duplicate:
                result.touched[outcome.incident_id] = self.state.active[outcome.incident_id].to_incident()
        return result

    def process(self, observation: Observation, grid: GridAssignment | None = None) -> Outcome:
        """Handle one observation; ``grid`` may be passed when the caller already looked it up."""
        at = event_time(observation)
        grid = grid or self.grids.assign(observation.lat, observation.lon)
        if observation.id in self.state.seen:
            return Outcome(observation, grid, None, duplicate=True)
        self.state.seen[observation.id] = at
        self._advance(at)
        match = self._nearest(observation, at)
        if match is None:
            incident = self._raise(observation, at, grid)
            return Outcome(observation, grid, incident.id, created=True)
        incident, distance = match
        self._attach(incident, observation, at, distance)
        return Outcome(observation, grid, incident.id)

    def replace_grids(self, grids: GridIndex) -> None:
        """Use a reloaded grid map from the next observation on."""
        self.grids = grids

    # -- matching -----------------------------------------------------------------------------
    def _nearest(self, observation: Observation, at: datetime) -> tuple[ActiveIncident, float] | None:
        rule = self.config.rule(observation.category)
        window = timedelta(seconds=rule.window_s)
        cells = self._cells[observation.category]
        best: tuple[float, str] | None = None
        for cell in neighbour_cells(cell_of(observation.lat, observation.lon, rule.radius_m)):
            for incident_id in cells.get(cell, ()):
                incident = self.state.active[incident_id]
                if not (incident.first_seen - window <= at <= incident.last_seen + window):
                    continue
                d = distance_m(observation.lat, observation.lon, incident.lat, incident.lon)
                if d <= rule.radius_m and (best is None or (d, incident_id) < best):
                    best = (d, incident_id)
        return None if best is None else (self.state.active[best[1]], best[0])

    # -- changes ------------------------------------------------------------------------------
    def _raise(self, observation: Observation, at: datetime, grid: GridAssignment) -> ActiveIncident:
        rule = self.config.rule(observation.category)
        incident = ActiveIncident(
            id=incident_id_for(observation.id), category=observation.category, grid_id=grid.grid_id,
            grid_path=list(grid.path), lat=observation.lat, lon=observation.lon,
            first_seen=at, last_seen=at, risk=rule.risk,
        )
        self._add_member(incident, observation, rule="first", distance=0.0, gap=0.0)
        reason = describe(observation) + ("" if grid.grid_id else "; outside every grid of the map")
        incident.history.append({"at": at, "actor": "engine", "action": "raise", "status": "open", "reason": reason})
        self.state.active[incident.id] = incident
        self._index(incident)
        return incident

    def _attach(self, incident: ActiveIncident, observation: Observation, at: datetime, distance: float) -> None:
        gap = max(0.0, (at - incident.last_seen).total_seconds())
        self._add_member(incident, observation, rule="near", distance=distance, gap=gap)
        incident.first_seen = min(incident.first_seen, at)
        incident.last_seen = max(incident.last_seen, at)
        incident.risk = higher_risk(incident.risk, self.config.rule(observation.category).risk)

    @staticmethod
    def _add_member(incident: ActiveIncident, observation: Observation, rule: str, distance: float, gap: float) -> None:
        kind = "alert" if isinstance(observation, Alert) else "report"
        (incident.alert_ids if kind == "alert" else incident.report_ids).append(observation.id)
        incident.members.append(
            {"id": observation.id, "kind": kind, "rule": rule, "distance_m": round(distance, 1), "gap_s": round(gap, 3)}
        )

    # -- bookkeeping --------------------------------------------------------------------------
    def _index(self, incident: ActiveIncident) -> None:
        rule = self.config.rule(incident.category)
        self._cells[incident.category][cell_of(incident.lat, incident.lon, rule.radius_m)].add(incident.id)

    def _advance(self, at: datetime) -> None:
        """Move the watermark; now and then forget incidents and ids that nothing can join any more.

        Pruning runs on a fixed event-time schedule kept in the state, so a restored engine prunes
        exactly when an uninterrupted one would.
        """
        state = self.state
        if state.watermark is not None and at <= state.watermark:
            return
        state.watermark = at
        if state.next_prune is not None and at < state.next_prune:
            return
        state.next_prune = at + PRUNE_EVERY
        for incident in [i for i in state.active.values() if self._expired(i, at)]:
            del state.active[incident.id]
            rule = self.config.rule(incident.category)
            self._cells[incident.category][cell_of(incident.lat, incident.lon, rule.radius_m)].discard(incident.id)
        horizon = at - timedelta(seconds=self.config.dedupe_horizon_s)
        state.seen = {k: v for k, v in state.seen.items() if v >= horizon}

    def _expired(self, incident: ActiveIncident, now: datetime) -> bool:
        window = timedelta(seconds=self.config.rule(incident.category).window_s)
        return incident.last_seen + window < now
