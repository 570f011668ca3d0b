"""The incident engine's output on simulated districts (bench/scenario.py), as JSON text, for the ways
the ingest runs it: replay in arrival order, replay of a shuffled arrival order (within the lateness),
and the live path batch by batch. The compiled engine must give these byte for byte as the pure one.

Run as a script, it reports which engine modules ran compiled, where they came from, and the outputs,
as one JSON document on stdout (tests/unit/test_engine_compiled_output.py runs it with a mypyc build
first on ``PYTHONPATH``):

    PYTHONPATH=<tree> python tests/unit/engine_outputs.py
"""

from __future__ import annotations

import json
import random
from typing import Any

from bench.scenario import generate
from gridwatch.contracts import Incident, Observation, event_time
from ingest.engine import COMPILABLE, IncidentEngine
from ingest.engine.compiled import compiled
from ingest.grids import GridIndex
from ingest.replay import ReplaySummary, replay

# (seed, days, sites, events per day): a small district and a default-sized one over two days
DISTRICTS = ((7, 1, 8, 60), (4242, 2, 40, 300))
LIVE_BATCH = 25
SHUFFLE_CHUNK = 97


def district(seed: int, days: int, sites: int, events_per_day: int) -> tuple[GridIndex, list[Observation]]:
    scenario = generate(seed, days, sites=sites, events_per_day=events_per_day)
    return scenario.grid_index(), scenario.observations


def as_json(incidents: list[Incident]) -> list[str]:
    return [incident.model_dump_json() for incident in incidents]


def in_arrival_order(grids: GridIndex, observations: list[Observation]) -> list[str]:
    return as_json(replay(observations, IncidentEngine(grids), ReplaySummary()))


def shuffled_within_lateness(grids: GridIndex, observations: list[Observation], seed: int) -> list[str]:
    """Each observation up to an hour late (the default lateness is two hours), in odd-sized chunks."""
    rng = random.Random(seed)
    shuffled = sorted(observations, key=lambda o: event_time(o).timestamp() + rng.uniform(0, 3600))
    return as_json(replay(shuffled, IncidentEngine(grids), ReplaySummary(), chunk=SHUFFLE_CHUNK))


def live_batch_by_batch(grids: GridIndex, observations: list[Observation]) -> list[str]:
    """What the live ingest publishes, batch by batch (the last version of each incident, merged ones
    dropped), then the final incidents."""
    engine = IncidentEngine(grids)
    published: dict[str, Incident] = {}
    for start in range(0, len(observations), LIVE_BATCH):
        result = engine.process_batch(observations[start:start + LIVE_BATCH])
        for old in result.merged:
            published.pop(old, None)
        published.update(result.touched)
    return as_json([published[key] for key in sorted(published)]) + ["-- finish --"] + as_json(engine.finish())


def outputs() -> dict[str, list[str]]:
    cases: dict[str, list[str]] = {}
    for seed, days, sites, events_per_day in DISTRICTS:
        grids, observations = district(seed, days, sites, events_per_day)
        cases[f"seed {seed}: replay in arrival order"] = in_arrival_order(grids, observations)
        cases[f"seed {seed}: replay shuffled within the lateness"] = shuffled_within_lateness(grids, observations, seed)
        cases[f"seed {seed}: live, batch by batch"] = live_batch_by_batch(grids, observations)
    return cases


def report() -> dict[str, Any]:
    return {
        "compiled": compiled(COMPILABLE),
        "files": {module.__name__: module.__file__ for module in COMPILABLE},
        "outputs": outputs(),
    }


if __name__ == "__main__":
    print(json.dumps(report()))
