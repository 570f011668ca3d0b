"""Where the ingest's time goes: seconds per stage of a batch, summed, and a Prometheus histogram.

The worker wraps each stage of a batch (poll, decode, grid assignment, observation insert, engine,
incident writes, database commit, offset commit, outbox publish, and the main thread's wait for the
writer) in ``StageClock.stage``. The sums let the throughput bench print the share of each stage, so
the effect of speeding up one of them (the engine, say) on the whole can be predicted before it is
made. Poll and decode run on a helper thread and the writes on the writer's, beside the engine, so
the stages' sum exceeds the wall time; a large ``write_wait`` says the database side is the slower.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from prometheus_client import CollectorRegistry, Histogram

STAGES = ("poll", "decode", "grids", "observations", "engine", "incidents", "db_commit", "offset_commit", "outbox",
          "write_wait")


@dataclass
class StageClock:
    """Seconds spent per stage since the worker started (or since ``reset``)."""

    histogram: Histogram | None = None
    seconds: dict[str, float] = field(default_factory=lambda: dict.fromkeys(STAGES, 0.0))
    # CPU time of the worker's thread in each stage: unlike wall time it hardly moves with the
    # machine's load, and wall minus CPU is time spent waiting (on PostgreSQL, Kafka or the CPU).
    cpu_seconds: dict[str, float] = field(default_factory=lambda: dict.fromkeys(STAGES, 0.0))
    # The worker's main, poll and write threads all add to the sums.
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @classmethod
    def create(cls, registry: CollectorRegistry) -> "StageClock":
        histogram = Histogram("gridwatch_ingest_stage_seconds", "time of one stage of one ingest batch", ["stage"],
                              registry=registry)
        return cls(histogram=histogram)

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        """Time the block as stage ``name``."""
        if name not in self.seconds:
            raise ValueError(f"unknown ingest stage {name!r}; known: {', '.join(STAGES)}")
        start, cpu_start = time.perf_counter(), time.thread_time()
        try:
            yield
        finally:
            self.add(name, time.perf_counter() - start, time.thread_time() - cpu_start)

    def add(self, name: str, elapsed: float, cpu: float = 0.0) -> None:
        """Count ``elapsed`` wall seconds and ``cpu`` thread CPU seconds to a stage (for a stage
        timed by the caller)."""
        with self._lock:
            self.seconds[name] += elapsed
            self.cpu_seconds[name] += cpu
        if self.histogram is not None:
            self.histogram.labels(name).observe(elapsed)

    def reset(self) -> None:
        self.seconds = dict.fromkeys(STAGES, 0.0)
        self.cpu_seconds = dict.fromkeys(STAGES, 0.0)

    def shares(self) -> dict[str, float]:
        """Each stage's share of the time of all stages (0 to 1); all zero before any batch."""
        total = sum(self.seconds.values())
        return {name: (s / total if total else 0.0) for name, s in self.seconds.items()}
