"""The ingest loop: poll Kafka, run the engine, store the batch, then commit offsets.

Order per batch (as quix-streams' checkpoint): rejected messages are flushed to the deadletter
topic, the batch's effects and the engine state are committed in one database transaction, and
only then are the Kafka offsets committed. A crash anywhere re-delivers the batch; ids already
stored are skipped, so nothing is lost and nothing counts twice. Incident changes reach
``gridwatch.incidents`` through the outbox table, which survives the same crashes.
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

from gridwatch.contracts import Alert
from gridwatch.kafka import next_offsets
from gridwatch.settings import Settings
from ingest import store
from ingest.decode import DecodedBatch, decode_records
from ingest.engine import EngineConfig, IncidentEngine
from ingest.grids import GridIndex
from ingest.gridstore import read_grid_map, stored_map_version
from ingest.linkmirror import LinkMirror, Links
from ingest.stages import StageClock

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


class IngestWorker:
    """One consumer, one engine, one database connection: see the module docstring for the order."""

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
        self._prefetcher = ThreadPoolExecutor(max_workers=1, thread_name_prefix="ingest-poll")
        self._ahead: Polled | None = None
        self._statuses_at: datetime | None = None
        self.engine = self._restore_engine()
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
        """After a failed batch: reload the engine from the database and rewind to committed offsets."""
        self.conn.rollback()
        self.links.forget()
        self._ahead = None
        self.engine = self._restore_engine()
        for tp in self.consumer.assignment():
            committed = self.consumer.committed(tp)
            if committed is None:
                self.consumer.seek_to_beginning(tp)
            else:
                self.consumer.seek(tp, committed)

    # -- the loop -------------------------------------------------------------------------------
    def run_once(self) -> int:
        """Poll and handle one batch; publish pending incident changes. Returns messages handled.

        While a batch is written, the next one is polled and decoded on a helper thread (Python
        work that overlaps the database's, on the other core). The consumer is used by one thread
        at a time: the helper's poll has ended before this thread commits offsets or, after a
        failed batch, ``recover`` rewinds; a batch polled ahead of a failed one is dropped.
        """
        timeout_ms = self.settings.ingest.poll_timeout_ms
        polled = self._ahead or self._poll(timeout_ms)
        self._ahead = None
        if not polled.records:
            with self.metrics.stages.stage("outbox"):
                self.publish_outbox()
        else:
            with self.metrics.batch_seconds.time():
                ahead = self._prefetcher.submit(self._poll, timeout_ms)
                try:
                    self.handle(polled.batch)
                    with self.metrics.stages.stage("outbox"):
                        self.publish_outbox()  # the incidents go out before the poll ahead is awaited
                finally:
                    following = ahead.result()
                self._ahead = following if following.records else None
                with self.metrics.stages.stage("offset_commit"):
                    self.consumer.commit(next_offsets(polled.records))
            self.metrics.last_batch_at.set_to_current_time()
        self.maybe_reload_grids()
        self.last_poll_ok = time.monotonic()
        return len(polled.records)

    def close(self) -> None:
        """Stop the helper thread, then close the consumer, the producer and the connection."""
        self._prefetcher.shutdown(wait=True)
        self.consumer.close()
        self.producer.close(timeout=5)
        self.conn.close()

    def _poll(self, timeout_ms: int) -> Polled:
        """Poll up to a batch and decode it (no other effect than the consumer's position)."""
        stages = self.metrics.stages
        started, cpu_started = time.perf_counter(), time.thread_time()
        polled = self.consumer.poll(timeout_ms=timeout_ms, max_records=self.settings.ingest.batch_max)
        records = [r for partition_records in polled.values() for r in partition_records]
        if not records:  # an idle wait for messages is not work
            return Polled(records, DecodedBatch())
        stages.add("poll", time.perf_counter() - started, time.thread_time() - cpu_started)
        with stages.stage("decode"):
            for topic, count in Tally(r.topic for r in records).items():
                self.metrics.messages.labels(topic).inc(count)
            return Polled(records, decode_records(records, self.topics))

    def handle(self, batch: DecodedBatch) -> None:
        """Send the batch's rejected messages to the deadletter topic, then write its effects and
        commit them in one transaction."""
        stages = self.metrics.stages
        with stages.stage("decode"):
            self._send_rejected(batch)
        with self.conn.transaction():
            with self.conn.cursor() as cur:
                links = self._store_batch(cur, batch)
            commit_started, cpu_started = time.perf_counter(), time.thread_time()  # commits on leaving the block
        stages.add("db_commit", time.perf_counter() - commit_started, time.thread_time() - cpu_started)
        self.links.remember(links)

    def _store_batch(self, cur: psycopg.Cursor, batch: DecodedBatch) -> Links:
        """Write the batch's effects in ``cur``'s transaction; return the member links written,
        for the link mirror to take once the transaction has committed."""
        stages = self.metrics.stages
        index = self.engine.grids
        observations = batch.observations
        with stages.stage("grids"):
            grids = index.assign_many(np.array([o.lat for o in observations]),
                                      np.array([o.lon for o in observations]))
        with stages.stage("observations"):
            new_ids = store.unstored_ids(cur, observations)
            fresh = [(o, g) for o, g in zip(observations, grids) if o.id in new_ids]
            self.metrics.duplicates.inc(len(observations) - len(fresh))
            statuses, self._statuses_at = store.incident_statuses(cur, self._statuses_at)
        with stages.stage("engine"):
            self.engine.sync_status(statuses)
            result = self.engine.process_batch([o for o, _ in fresh], [g for _, g in fresh])
        links = self.links.changed(store.live_incidents(result))
        with stages.stage("observations"):
            store.insert_observations(cur, fresh, links)  # new observations land with their incident
        with stages.stage("incidents"):
            earlier = {table: [p for p in pairs if p[0] not in new_ids] for table, pairs in links.items()}
            store.write_batch_result(cur, result, earlier)
            store.write_heartbeats(cur, batch.heartbeats)
            store.mark_offline_devices(cur, [o for o, _ in fresh if isinstance(o, Alert)])
            store.write_dead_letters(cur, batch.dead_letters)
        for incident_id in result.raised:
            self.metrics.incidents_raised.labels(result.touched[incident_id].category).inc()
        for letter, *_ in batch.dead_letters:
            self.metrics.dead_letters.labels(letter.source).inc()
        return links

    def _send_rejected(self, batch: DecodedBatch) -> None:
        for letter in batch.rejected:
            log.warning("rejected message", extra={"topic": letter.topic, "reason": letter.reason, **letter.context})
            self.metrics.rejected.labels(letter.topic or "").inc()
        futures = [
            self.producer.send(self.topics.deadletter, key=letter.key.encode() if letter.key else None,
                               value=letter.to_json())
            for letter in batch.rejected
        ]
        wait_delivered(self.producer, futures)

    # -- side duties ----------------------------------------------------------------------------
    def publish_outbox(self) -> int:
        """Send pending incident changes (from the engine and from the API) to gridwatch.incidents."""
        with self.conn.transaction(), self.conn.cursor() as cur:
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
