"""The ingest loop: poll Kafka, run the engine, store the batch, then commit offsets.

Order per batch (as quix-streams' checkpoint): rejected messages are flushed to the deadletter
topic, the batch's effects and the engine state are committed in one database transaction, and
only then are the Kafka offsets committed. A crash anywhere re-delivers the batch; ids already
stored are skipped, so nothing is lost and nothing counts twice. Incident changes reach
``gridwatch.incidents`` through the outbox table, which survives the same crashes.

Three threads share the work of consecutive batches: while the main thread runs the engine on
batch N, the writer (ingest/writer.py) writes batch N-1 over its own connection and a helper polls
and decodes batch N+1. The three meet once per batch: batch N-1 is committed and its offsets are
committed, then batch N goes to the writer.
"""

from __future__ import annotations

import logging
import time
from collections import Counter as Tally
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import numpy as np
import psycopg
from kafka import KafkaConsumer, KafkaProducer
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from gridwatch.contracts import Observation
from gridwatch.deadletter import DeadLetter
from gridwatch.kafka import next_offsets, rewind_to_committed
from gridwatch.settings import Settings
from ingest import store
from ingest.dbconn import reset_connection
from ingest.decode import DecodedBatch, decode_records, reject
from ingest.engine import BatchResult, EngineConfig, IncidentEngine
from ingest.grids import GridAssignment, GridIndex
from ingest.gridstore import read_grid_map, stored_map_version
from ingest.isolation import Isolation, caused_by_data, unstorable_reason
from ingest.linkmirror import LinkMirror
from ingest.stages import StageClock
from ingest.store import ObservationKey, observation_key
from ingest.writer import BatchWriter, WriteJob

log = logging.getLogger(__name__)

OUTBOX_BATCH = 1000
REBUILD_CHUNK = 4096


@dataclass
class IngestMetrics:
    messages: Counter
    rejected: Counter
    duplicates: Counter
    incidents_raised: Counter
    dead_letters: Counter
    batch_seconds: Histogram
    outbox_published: Counter
    grid_map_reloads: Counter
    last_batch_at: Gauge
    stages: StageClock

    @classmethod
    def create(cls, registry: CollectorRegistry) -> "IngestMetrics":
        return cls(
            messages=Counter("gridwatch_ingest_messages", "Kafka messages consumed", ["topic"], registry=registry),
            rejected=Counter("gridwatch_ingest_rejected", "malformed messages sent to the deadletter topic",
                             ["topic"], registry=registry),
            duplicates=Counter("gridwatch_ingest_duplicates", "observations already stored", registry=registry),
            incidents_raised=Counter("gridwatch_ingest_incidents_raised", "incidents raised", ["category"],
                                     registry=registry),
            dead_letters=Counter("gridwatch_ingest_dead_letters_stored", "dead letters stored", ["source"],
                                 registry=registry),
            batch_seconds=Histogram("gridwatch_ingest_batch_seconds", "time to handle one batch", registry=registry),
            outbox_published=Counter("gridwatch_ingest_incident_changes_published",
                                     "incident changes published to Kafka", registry=registry),
            grid_map_reloads=Counter("gridwatch_ingest_grid_map_reloads", "grid maps (re)loaded", registry=registry),
            last_batch_at=Gauge("gridwatch_ingest_last_batch_timestamp", "unix time of the last batch",
                                registry=registry),
            stages=StageClock.create(registry),
        )


@dataclass
class Polled:
    """One poll's records and what decoding made of them."""

    records: list[Any]
    batch: DecodedBatch


def wait_delivered(producer: KafkaProducer, futures: list[Any], timeout_s: float = 30.0) -> None:
    """Block until every send is acknowledged (acks=all); raise if any failed."""
    if not futures:
        return
    producer.flush(timeout=timeout_s)
    for future in futures:
        future.get(timeout=timeout_s)


def new_observations(observations: list[Observation], grids: list[GridAssignment], texts: list[str | None],
                     stored: set[ObservationKey]) -> tuple[list[tuple[Observation, GridAssignment]], list[str | None]]:
    """The observations whose keys are not in ``stored``, with their grids, and beside them their
    message texts."""
    fresh: list[tuple[Observation, GridAssignment]] = []
    fresh_texts: list[str | None] = []
    for observation, grid, text in zip(observations, grids, texts):
        if observation_key(observation) not in stored:
            fresh.append((observation, grid))
            fresh_texts.append(text)
    return fresh, fresh_texts


def not_repeated(fresh: list[tuple[Observation, GridAssignment]], texts: list[str | None], result: BatchResult
                 ) -> tuple[list[tuple[Observation, GridAssignment]], list[str | None]]:
    """Leave out what the engine took for a repeat of an id it has seen (a re-sent alert stamped with
    another time is a new row to the table's (id, time) key, but the same alert to the engine)."""
    kept = [i for i, outcome in enumerate(result.outcomes) if not outcome.duplicate]
    if len(kept) == len(fresh):
        return fresh, texts
    return [fresh[i] for i in kept], [texts[i] for i in kept]


class IngestWorker:
    """One consumer, one engine, a connection for reads and a writer with its own: see the module
    docstring for the order."""

    def __init__(self, settings: Settings, conn: psycopg.Connection, consumer: KafkaConsumer,
                 producer: KafkaProducer, engine_config: EngineConfig, metrics: IngestMetrics) -> None:
        self.settings = settings
        self.topics = settings.kafka.topics
        self.conn = conn
        self.consumer = consumer
        self.producer = producer
        self.engine_config = engine_config
        self.metrics = metrics
        self.grid_version: str | None = None
        self.links = LinkMirror()
        self._ahead: Polled | None = None
        self._statuses_at: datetime | None = None
        self._recovering = False
        self.isolation = Isolation(span=2 * settings.ingest.batch_max)
        self.engine = self._restore_engine()
        # Opened once the engine is rebuilt, so a failed start leaves no connection or thread behind.
        self.writer = BatchWriter(settings.database.url, metrics.stages, self._committed)
        self._prefetcher = ThreadPoolExecutor(max_workers=1, thread_name_prefix="ingest-poll")
        self._next_grid_check = 0.0
        self.last_poll_ok = time.monotonic()

    # -- start and recovery ---------------------------------------------------------------------
    def _load_grids(self) -> GridIndex:
        grid_map = read_grid_map(self.conn)
        if grid_map is None:
            raise RuntimeError("no grid map in the database: run `gridwatch grids load FILE` or pass --grids")
        self.grid_version = stored_map_version(self.conn)
        self.metrics.grid_map_reloads.inc()
        self.conn.commit()
        return GridIndex(grid_map)

    def _restore_engine(self) -> IncidentEngine:
        """Rebuild the engine from stored observations: it does not depend on their order, so
        feeding them again in event-time order puts it exactly where it was."""
        engine = IncidentEngine(self._load_grids(), self.engine_config, keep_finished=False)
        horizon = timedelta(seconds=self.engine_config.max_window_s + self.engine_config.lateness_s)
        with self.conn.transaction(), self.conn.cursor() as cur:
            observations = store.recent_observations(cur, horizon)
            statuses, self._statuses_at = store.incident_statuses(cur, None)
        for start in range(0, len(observations), REBUILD_CHUNK):
            engine.process_batch(observations[start:start + REBUILD_CHUNK])
        engine.sync_status(statuses)
        log.info("engine rebuilt", extra={"observations": len(observations), "horizon_s": horizon.total_seconds()})
        return engine

    def recover(self) -> None:
        """After a failed batch: drop the batch in flight and the one polled ahead, reconnect to
        PostgreSQL where the connection was lost, rewind to the committed offsets and reload the
        engine from the database. Until this has run to its end, ``run_once`` starts with it again."""
        self._recovering = True
        self._ahead = None
        self.links.forget()
        self.writer.reset()
        self.conn = reset_connection(self.conn, self.settings.database.url)
        rewind_to_committed(self.consumer)
        self.engine = self._restore_engine()
        self._recovering = False

    # -- the loop -------------------------------------------------------------------------------
    def run_once(self) -> int:
        """Poll and run the engine on one batch, hand it to the writer once the batch before it is
        committed (and then commit that one's offsets). Returns messages handled.

        The next batch is polled and decoded on a helper thread meanwhile. The consumer is used by
        one thread at a time: the helper's poll has ended before this thread commits offsets or,
        after a failed batch, ``recover`` rewinds; a batch polled ahead of a failed one is dropped.
        """
        if self._recovering:
            self.recover()
        if self.isolation.active:
            return self._run_one_message()
        timeout_ms = self.settings.ingest.poll_timeout_ms
        polled = self._ahead or self._poll(timeout_ms)
        self._ahead = None
        if not polled.records:
            self._commit_written()
            with self.metrics.stages.stage("outbox"):
                self.publish_outbox(self.conn)  # the writer is idle: only one thread publishes at a time
        else:
            with self.metrics.batch_seconds.time():
                ahead = self._prefetcher.submit(self._poll, timeout_ms)
                try:
                    job = self.prepare(polled)
                    with self.metrics.stages.stage("write_wait"):
                        written = self.writer.wait()
                finally:
                    following = ahead.result()
                self._ahead = following if following.records else None
                if written is not None:
                    self.isolation.written()
                self._commit_offsets(written)
                self.writer.submit(job)
            self.metrics.last_batch_at.set_to_current_time()
        self.maybe_reload_grids()
        self.last_poll_ok = time.monotonic()
        return len(polled.records)

    def batch_failed(self, error: BaseException) -> None:
        """Called by the loop after a failed batch, before ``recover``: see ingest/isolation.py."""
        if self.isolation.failed(error):
            log.warning("batches keep failing on their data; reading messages one at a time to find the one",
                        extra={"error": repr(error), "messages": self.isolation.left})

    def _run_one_message(self) -> int:
        """One message, written (its offset committed) before the next is read; a message whose own
        write fails on its data (ingest/isolation.py) is dead-lettered, and the engine rebuilt without it."""
        polled = self._poll(self.settings.ingest.poll_timeout_ms, max_records=1)
        if not polled.records:
            self.isolation.caught_up()
            return 0
        self.isolation.read_one()
        try:
            self.writer.submit(self.prepare(polled))
            self._commit_offsets(self.writer.wait())
        except Exception as exc:
            if not caused_by_data(exc):
                raise
            self._send_dead_letters([reject(polled.records[0], unstorable_reason(exc))])
            self.consumer.commit(next_offsets(polled.records))
            self._recovering = True  # the engine took it in: rebuild it from what is stored
        return 1

    def flush(self) -> None:
        """Wait for the batch in flight and commit its offsets (before a clean stop)."""
        self._commit_written()

    def close(self) -> None:
        """Commit what is written, stop the helper threads, then close the consumer, the producer
        and the connections."""
        try:
            if not self._recovering:
                self.flush()
        except Exception:  # noqa: BLE001 - its batch is re-delivered on the next start
            log.exception("last batch not committed on close; it will be read again")
        self._prefetcher.shutdown(wait=True)
        self.writer.close()
        self.consumer.close()
        self.producer.close(timeout=5)
        self.conn.close()

    def backend_pids(self) -> list[int]:
        """The PostgreSQL backends of this worker's connections (reads, writes)."""
        return [self.conn.info.backend_pid, self.writer.conn.info.backend_pid]

    def _commit_written(self) -> None:
        with self.metrics.stages.stage("write_wait"):
            written = self.writer.wait()
        self._commit_offsets(written)

    def _commit_offsets(self, written: WriteJob | None) -> None:
        if written is not None:
            with self.metrics.stages.stage("offset_commit"):
                self.consumer.commit(written.offsets)

    def _poll(self, timeout_ms: int, max_records: int | None = None) -> Polled:
        """Poll up to a batch and decode it (no other effect than the consumer's position)."""
        stages = self.metrics.stages
        started, cpu_started = time.perf_counter(), time.thread_time()
        polled = self.consumer.poll(timeout_ms=timeout_ms, max_records=max_records or self.settings.ingest.batch_max)
        records = [r for partition_records in polled.values() for r in partition_records]
        if not records:  # an idle wait for messages is not work
            return Polled(records, DecodedBatch())
        stages.add("poll", time.perf_counter() - started, time.thread_time() - cpu_started)
        with stages.stage("decode"):
            for topic, count in Tally(r.topic for r in records).items():
                self.metrics.messages.labels(topic).inc(count)
            return Polled(records, decode_records(records, self.topics))

    def prepare(self, polled: Polled) -> WriteJob:
        """Send the batch's rejected messages to the deadletter topic, run the engine on what is
        new, and return what the batch's transaction is to write.

        What is new: not stored (read on this thread's connection, which sees every batch but the
        one in flight) and not in the batch in flight; a repeat within the batch goes to the engine,
        which knows it, and is written once."""
        batch = polled.batch
        stages = self.metrics.stages
        with stages.stage("decode"):
            self._send_rejected(batch)
        observations = batch.observations
        with stages.stage("grids"):
            grids = self.engine.grids.assign_many(np.array([o.lat for o in observations]),
                                                  np.array([o.lon for o in observations]))
        with stages.stage("observations"):
            in_flight = self.writer.in_flight
            with self.conn.transaction(), self.conn.cursor() as cur:
                stored = store.stored_keys(cur, observations)
                statuses, self._statuses_at = store.incident_statuses(cur, self._statuses_at)
            if in_flight is not None:
                stored |= in_flight.keys()
            fresh, texts = new_observations(observations, grids, batch.texts, stored)
        with stages.stage("engine"):
            self.engine.sync_status(statuses)
            result = self.engine.process_batch([o for o, _ in fresh], [g for _, g in fresh])
        fresh, texts = not_repeated(fresh, texts, result)
        self.metrics.duplicates.inc(len(observations) - len(fresh))
        links = self.links.changed(store.live_incidents(result))
        # Taken as stored now, so the next batch does not write them again; a failed write
        # empties the mirror (``recover``).
        self.links.remember(links)
        return WriteJob(next_offsets(polled.records), fresh, result, links, batch.heartbeats, batch.dead_letters,
                        texts)

    def _committed(self, conn: psycopg.Connection, job: WriteJob) -> None:
        """On the writer's thread, once ``job`` is committed: count it and publish its incident changes."""
        for incident_id in job.result.raised:
            self.metrics.incidents_raised.labels(job.result.touched[incident_id].category).inc()
        for letter, *_ in job.dead_letters:
            self.metrics.dead_letters.labels(letter.source).inc()
        with self.metrics.stages.stage("outbox"):
            self.publish_outbox(conn)

    def _send_rejected(self, batch: DecodedBatch) -> None:
        self._send_dead_letters(batch.rejected)

    def _send_dead_letters(self, letters: list[DeadLetter]) -> None:
        for letter in letters:
            log.warning("rejected message", extra={"topic": letter.topic, "reason": letter.reason, **letter.context})
            self.metrics.rejected.labels(letter.topic or "").inc()
        futures = [
            self.producer.send(self.topics.deadletter, key=letter.key.encode() if letter.key else None,
                               value=letter.to_json())
            for letter in letters
        ]
        wait_delivered(self.producer, futures)

    # -- side duties ----------------------------------------------------------------------------
    def publish_outbox(self, conn: psycopg.Connection) -> int:
        """Send pending incident changes (from the engine and from the API) to gridwatch.incidents."""
        with conn.transaction(), conn.cursor() as cur:
            # The payload as PostgreSQL prints it is the JSON to send: no parse and dump in between.
            cur.execute(
                "SELECT seq, incident_id, payload::text FROM incident_outbox WHERE published_at IS NULL "
                "ORDER BY seq LIMIT %s FOR UPDATE SKIP LOCKED", (OUTBOX_BATCH,))
            rows = cur.fetchall()
            if not rows:
                return 0
            futures = [
                self.producer.send(self.topics.incidents, key=incident_id.encode(), value=payload.encode())
                for _, incident_id, payload in rows
            ]
            wait_delivered(self.producer, futures)
            cur.execute("UPDATE incident_outbox SET published_at = now() WHERE seq = ANY(%s)", ([r[0] for r in rows],))
        self.metrics.outbox_published.inc(len(rows))
        return len(rows)

    def maybe_reload_grids(self) -> None:
        now = time.monotonic()
        if now < self._next_grid_check:
            return
        self._next_grid_check = now + self.settings.ingest.grid_reload_s
        version = stored_map_version(self.conn)
        self.conn.commit()
        if version is not None and version != self.grid_version:
            log.info("grid map changed, reloading", extra={"old": self.grid_version, "new": version})
            self.engine.replace_grids(self._load_grids())
