"""``gridwatch replay``: the live ingest's incident engine over a file, with no server.

Input: JSON lines of alerts and reports (mixed ``kind``), in arrival order. Output: one incident per
line, in the order incidents were raised, each in its final state with every member id. Lines that
are not valid observations are reported with their line number and left out of the engine, the same
rule the live ingest applies to Kafka messages.
"""

from __future__ import annotations

import gc
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from gridwatch.contracts import Incident, Observation
from gridwatch.deadletter import explain
from gridwatch.gridmap import load_grid_map
from ingest.decode import observation_from_json
from ingest.engine import EngineConfig, IncidentEngine, load_engine_config
from ingest.grids import GridIndex

CHUNK = 4096


@dataclass
class ReplaySummary:
    observations: int = 0
    duplicates: int = 0
    outside_grids: int = 0
    incidents: int = 0
    rejected: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        lines = [
            f"replayed {self.observations} observations ({self.duplicates} duplicates, "
            f"{self.outside_grids} outside every grid) into {self.incidents} incidents"
        ]
        if self.rejected:
            lines.append(f"rejected {len(self.rejected)} lines:")
            lines.extend(f"  {r}" for r in self.rejected[:20])
            if len(self.rejected) > 20:
                lines.append(f"  ... and {len(self.rejected) - 20} more")
        return "\n".join(lines)


def read_observations(path: Path, summary: ReplaySummary) -> Iterator[Observation]:
    """The file's observations, a line each; a line the live ingest would refuse is reported, not replayed."""
    with path.open("rb") as lines:  # bytes: a line that is not UTF-8 is one rejected line, not the end of the run
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            try:
                yield observation_from_json(line)
            except Exception as exc:  # noqa: BLE001 - as the live ingest: any bad line is rejected, the run goes on
                summary.rejected.append(f"{path}:{number}: {explain(exc)}")


def replay(observations: Iterable[Observation], engine: IncidentEngine, summary: ReplaySummary,
           chunk: int = CHUNK) -> list[Incident]:
    """Run the engine over ``observations`` in chunks (grids looked up in bulk); return every
    incident, ordered by first observation."""
    with cyclic_gc_paused():
        buffer: list[Observation] = []
        for observation in observations:
            buffer.append(observation)
            if len(buffer) >= chunk:
                _run_chunk(engine, buffer, summary)
                buffer = []
        _run_chunk(engine, buffer, summary)
        incidents = engine.finish()
    summary.incidents = len(incidents)
    return incidents


@contextmanager
def cyclic_gc_paused() -> Iterator[None]:
    """Pause Python's cyclic garbage collector for a batch run, then restore it.

    A replay allocates a few small objects per observation and keeps most of them to the end, so
    the collector keeps rescanning a growing heap for cycles the engine does not make (about a
    tenth of the run's time). Reference counting still frees everything else at once."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _run_chunk(engine: IncidentEngine, chunk: list[Observation], summary: ReplaySummary) -> None:
    if not chunk:
        return
    grids = engine.grids.assign_many(np.array([o.lat for o in chunk]), np.array([o.lon for o in chunk]))
    result = engine.process_batch(chunk, grids, publish=False)
    summary.observations += len(chunk)
    summary.duplicates += sum(o.duplicate for o in result.outcomes)
    summary.outside_grids += sum(o.grid.outside for o in result.outcomes)


def replay_file(grids: Path, input_path: Path, output: Path, config: Path | None = None) -> ReplaySummary:
    engine_config: EngineConfig = load_engine_config(config)
    engine = IncidentEngine(GridIndex(load_grid_map(grids)), engine_config)
    summary = ReplaySummary()
    incidents = replay(read_observations(input_path, summary), engine, summary)
    with output.open("w", encoding="utf-8") as out:
        for incident in incidents:
            out.write(incident.model_dump_json() + "\n")
    return summary
