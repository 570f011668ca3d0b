"""Write prepared ingest batches on a thread of their own, over a database connection of their own.

The ingest's main thread runs the engine on batch N+1 while this thread writes batch N: psycopg
releases the GIL while it waits on PostgreSQL, and PostgreSQL works on the other core, so the
database's time overlaps the engine's. One batch at most is in flight, and batches are written in
the order submitted. The worker commits a batch's Kafka offsets only once ``wait`` has returned it
(its transaction committed), so a crash anywhere re-delivers the batch into the idempotent store:
at least once, as with a serial loop.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import psycopg
from kafka.structs import OffsetAndMetadata, TopicPartition

from gridwatch.contracts import Alert, Heartbeat, Observation
from gridwatch.deadletter import DeadLetter
from ingest import store
from ingest.dbconn import reset_connection
from ingest.engine import BatchResult
from ingest.grids import GridAssignment
from ingest.linkmirror import Links
from ingest.stages import StageClock
from ingest.store import ObservationKey, observation_key


@dataclass
class WriteJob:
    """One batch as the engine left it: what its transaction writes and the offsets to commit after."""

    offsets: dict[TopicPartition, OffsetAndMetadata]
    fresh: list[tuple[Observation, GridAssignment]] = field(default_factory=list)  # not stored yet
    result: BatchResult = field(default_factory=BatchResult)
    links: Links = field(default_factory=dict)  # member links that differ from what is stored
    heartbeats: list[Heartbeat] = field(default_factory=list)
    dead_letters: list[tuple[DeadLetter, str, int, int]] = field(default_factory=list)
    # Beside each of ``fresh``, the message text to store as its payload (None: dump the model).
    texts: list[str | None] | None = None

    def keys(self) -> set[ObservationKey]:
        """The observations this job stores."""
        return {observation_key(o) for o, _ in self.fresh}


def write_job(cur: psycopg.Cursor, job: WriteJob, stages: StageClock) -> None:
    """Everything ``job`` changes, in ``cur``'s transaction: its new observations land with their
    incident (one COPY), then the incidents, the links of earlier members, heartbeats, devices
    an offline alert names, and dead letters."""
    with stages.stage("observations"):
        store.insert_observations(cur, job.fresh, job.links, job.texts)
    with stages.stage("incidents"):
        new_ids = {o.id for o, _ in job.fresh}
        earlier = {table: [p for p in pairs if p[0] not in new_ids] for table, pairs in job.links.items()}
        store.write_batch_result(cur, job.result, earlier)
        store.write_heartbeats(cur, job.heartbeats)
        store.mark_offline_devices(cur, [o for o, _ in job.fresh if isinstance(o, Alert)])
        store.write_dead_letters(cur, job.dead_letters)


class BatchWriter:
    """One thread, one connection: ``submit`` a job, ``wait`` for it before the next."""

    def __init__(self, url: str, stages: StageClock,
                 on_committed: Callable[[psycopg.Connection, WriteJob], Any]) -> None:
        """``on_committed(conn, job)`` runs on the writer's thread after each commit (metrics,
        the outbox); an error there fails the job like a failed write."""
        self.url = url
        self.conn = psycopg.connect(url)
        self._stages = stages
        self._on_committed = on_committed
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="ingest-write")
        self._pending: tuple[WriteJob, Future[WriteJob]] | None = None

    @property
    def in_flight(self) -> WriteJob | None:
        """The job submitted and not yet waited for."""
        return None if self._pending is None else self._pending[0]

    def submit(self, job: WriteJob) -> None:
        if self._pending is not None:
            raise RuntimeError("a batch is still being written: wait() for it before submitting the next")
        self._pending = job, self._thread.submit(self._write, job)

    def wait(self) -> WriteJob | None:
        """Block until the job in flight is committed and return it (None when there was none).
        Raises what the write raised; the job is then no longer in flight either way."""
        if self._pending is None:
            return None
        _, future = self._pending
        self._pending = None
        return future.result()

    def reset(self) -> None:
        """After a failure: let the job in flight end (its error is the caller's to have seen), roll
        back, and reconnect if the connection was lost."""
        pending, self._pending = self._pending, None
        if pending is not None:
            pending[1].exception()
        self.conn = reset_connection(self.conn, self.url)

    def close(self) -> None:
        self._thread.shutdown(wait=True)
        self.conn.close()

    def _write(self, job: WriteJob) -> WriteJob:
        with self.conn.transaction():
            with self.conn.cursor() as cur:
                write_job(cur, job, self._stages)
            commit_started, cpu_started = time.perf_counter(), time.thread_time()  # commits on leaving the block
        self._stages.add("db_commit", time.perf_counter() - commit_started, time.thread_time() - cpu_started)
        self._on_committed(self.conn, job)
        return job
