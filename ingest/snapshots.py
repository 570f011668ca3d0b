"""Evidence snapshots from the edge (topic ``gridwatch.snapshots``) into PostgreSQL.

A small consumer of its own, in its own consumer group and thread, beside the incident loop: a
burst of pictures (a few hundred KB each) must never slow the alerts down, and the incident loop
needs nothing from them. Per poll: validate each message (``gridwatch.snapshot``), store the good
ones with ``ON CONFLICT DO NOTHING`` in one transaction (a re-delivered or re-sent picture lands
once), send the bad ones to the deadletter topic, and only then commit the offsets. Each picture is
written under its own savepoint: one that PostgreSQL refuses on its data (``ingest.isolation``) is
rolled back alone and dead-lettered ("could not be stored: ...") instead of failing its batch on every
re-read; an outage or a fault of the SQL still fails the batch, which is read again.

A rejected picture's dead letter keeps at most ``DEAD_LETTER_BYTES`` of it (base64): the whole of
a near-1 MB JPEG would not fit in a Kafka message once encoded, and the reason, key and size are
what an operator needs.

Pictures past ``ingest.snapshot_retention_days`` are deleted by the same thread, once per
``ingest.snapshot_prune_every_s`` (``ingest.snapshot_retention``).
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

import psycopg
from kafka import KafkaConsumer, KafkaProducer
from prometheus_client import CollectorRegistry, Counter, Histogram

from gridwatch.backoff import Backoff
from gridwatch.deadletter import DeadLetter
from gridwatch.kafka import make_consumer, make_producer, next_offsets, rewind_to_committed
from gridwatch.settings import Settings
from gridwatch.snapshot import Snapshot, SnapshotError
from ingest.dbconn import reset_connection
from ingest.isolation import caused_by_data, unstorable_reason
from ingest.snapshot_retention import prune_snapshots, retention_cutoff

log = logging.getLogger(__name__)

DEAD_LETTER_BYTES = 4096
MAX_POLL_RECORDS = 50  # ~100 KB each: a poll stays a few MB
INSERT_SQL = (
    "INSERT INTO snapshots (alert_id, camera_id, site_id, taken_at, jpeg) VALUES (%s, %s, %s, %s, %s) "
    "ON CONFLICT (alert_id) DO NOTHING"
)


def snapshot_group(settings: Settings) -> str:
    """Its own consumer group, named after the ingest's so that each deployment (and test) has one."""
    return f"{settings.kafka.ingest_group}-snapshots"


@dataclass
class SnapshotMetrics:
    stored: Counter
    duplicates: Counter
    rejected: Counter
    pruned: Counter
    bytes: Histogram

    @classmethod
    def create(cls, registry: CollectorRegistry) -> "SnapshotMetrics":
        return cls(
            stored=Counter("gridwatch_ingest_snapshots_stored", "evidence snapshots stored", registry=registry),
            duplicates=Counter("gridwatch_ingest_snapshots_duplicate", "snapshots already stored", registry=registry),
            rejected=Counter("gridwatch_ingest_snapshots_rejected", "snapshot messages sent to the deadletter topic",
                             registry=registry),
            pruned=Counter("gridwatch_ingest_snapshots_pruned", "snapshots deleted past their retention",
                           registry=registry),
            bytes=Histogram("gridwatch_ingest_snapshot_bytes", "size of stored snapshots", registry=registry,
                            buckets=(10_000, 30_000, 60_000, 100_000, 200_000, 400_000, 700_000, 1_000_000)),
        )


def dead_letter(record: Any, reason: str) -> DeadLetter:
    value: bytes = record.value or b""
    key = record.key.decode("utf-8", "replace") if record.key else None
    context = {"partition": record.partition, "offset": record.offset, "size": len(value),
               "truncated": len(value) > DEAD_LETTER_BYTES,
               "headers": {k: (v or b"").decode("utf-8", "replace")[:200] for k, v in (record.headers or [])}}
    return DeadLetter.from_bytes("kafka", reason, value[:DEAD_LETTER_BYTES], topic=record.topic, key=key,
                                 context=context)


def decode_snapshots(records: list[Any]) -> tuple[list[tuple[Any, Snapshot]], list[DeadLetter]]:
    """The good records, each with its snapshot (a write refused later needs the record for its dead
    letter), and the dead letters of the bad ones."""
    good: list[tuple[Any, Snapshot]] = []
    bad: list[DeadLetter] = []
    for record in records:
        try:
            good.append((record, Snapshot.from_message(record.key, record.value, record.headers or [])))
        except SnapshotError as exc:
            bad.append(dead_letter(record, f"unusable snapshot: {exc}"))
    return good, bad


class SnapshotConsumer:
    """Polls the snapshots topic and stores pictures; ``run(stop)`` until stopped."""

    def __init__(self, settings: Settings, conn: psycopg.Connection, consumer: KafkaConsumer,
                 producer: KafkaProducer, metrics: SnapshotMetrics) -> None:
        self.settings = settings
        self.conn = conn
        self.consumer = consumer
        self.producer = producer
        self.metrics = metrics
        self._pruned_at: float | None = None  # monotonic; None = not yet since start

    @classmethod
    def connect(cls, settings: Settings, registry: CollectorRegistry) -> "SnapshotConsumer":
        conn = psycopg.connect(settings.database.url)
        consumer = make_consumer(settings.kafka, [settings.kafka.topics.snapshots], snapshot_group(settings),
                                 max_poll_records=MAX_POLL_RECORDS)
        return cls(settings, conn, consumer, make_producer(settings.kafka), SnapshotMetrics.create(registry))

    def run_once(self, timeout_ms: int = 500) -> int:
        """One poll: store, dead-letter, commit; returns snapshots newly stored."""
        polled = self.consumer.poll(timeout_ms=timeout_ms)
        records = [r for batch in polled.values() for r in batch]
        if not records:
            return 0
        good, bad = decode_snapshots(records)
        self._dead_letter(bad)
        stored = self._store(good)
        self.consumer.commit(next_offsets(records))
        return stored

    def _store(self, received: list[tuple[Any, Snapshot]]) -> int:
        """Insert the snapshots in one transaction, each under its own savepoint; dead-letter the ones
        refused on their data (any other error fails the batch). Returns snapshots newly stored."""
        stored, unstorable = 0, []
        with self.conn.transaction(), self.conn.cursor() as cur:
            for record, snapshot in received:
                try:
                    stored += self._insert(cur, snapshot)
                except Exception as exc:
                    if not caused_by_data(exc):
                        raise
                    unstorable.append(dead_letter(record, unstorable_reason(exc)))
        self._dead_letter(unstorable)
        duplicates = len(received) - len(unstorable) - stored
        self.metrics.stored.inc(stored)
        self.metrics.duplicates.inc(duplicates)
        if stored:
            log.info("snapshots stored", extra={"stored": stored, "duplicates": duplicates})
        return stored

    def _insert(self, cur: psycopg.Cursor[Any], s: Snapshot) -> int:
        """One snapshot under a savepoint, so that a refused one rolls back alone; returns rows inserted."""
        with self.conn.transaction():
            cur.execute(INSERT_SQL, (s.alert_id, s.camera_id, s.site_id, s.taken_at, s.jpeg))
        if cur.rowcount:
            self.metrics.bytes.observe(len(s.jpeg))
        return cur.rowcount

    def prune_if_due(self, now: datetime | None = None) -> int:
        """Delete the pictures past retention when ``snapshot_prune_every_s`` has passed since the last
        time (or at start); returns how many went."""
        settings = self.settings.ingest
        due = self._pruned_at is None or time.monotonic() - self._pruned_at >= settings.snapshot_prune_every_s
        cutoff = retention_cutoff(now or datetime.now(timezone.utc), settings.snapshot_retention_days)
        if not due or cutoff is None:
            return 0
        deleted = prune_snapshots(self.conn, cutoff)
        self._pruned_at = time.monotonic()
        self.metrics.pruned.inc(deleted)
        if deleted:
            log.info("snapshots past retention deleted", extra={"deleted": deleted, "taken_before": cutoff.isoformat()})
        return deleted

    def _dead_letter(self, letters: list[DeadLetter]) -> None:
        if not letters:
            return
        futures = [self.producer.send(self.settings.kafka.topics.deadletter,
                                      key=letter.key.encode() if letter.key else None, value=letter.to_json())
                   for letter in letters]
        self.producer.flush(timeout=30)
        for future, letter in zip(futures, letters):
            future.get(timeout=30)
            log.warning("rejected snapshot", extra={"reason": letter.reason, "key": letter.key})
        self.metrics.rejected.inc(len(letters))

    def run(self, stop: threading.Event) -> None:
        """Poll until ``stop``; a failed poll backs off, rolls back and goes on (offsets not committed)."""
        backoff = Backoff(initial_s=0.5, max_s=30.0)
        while not stop.is_set():
            try:
                self.run_once()
                self.prune_if_due()
                backoff.reset()
            except Exception:  # noqa: BLE001 - the consumer must outlive a broker or database outage
                log.exception("snapshot batch failed; will re-read it")
                stop.wait(backoff.next_delay())
                self._recover()

    def _recover(self) -> None:
        """Rewind to the committed offsets and reconnect the database if it went away."""
        try:
            self.conn = reset_connection(self.conn, self.settings.database.url)
            rewind_to_committed(self.consumer)
        except Exception:  # noqa: BLE001
            log.exception("snapshot consumer recovery failed; will retry")

    def close(self) -> None:
        self.consumer.close()
        self.producer.close(timeout=5)
        self.conn.close()


def start_snapshot_consumer(settings: Settings, registry: CollectorRegistry,
                            stop: threading.Event) -> tuple[SnapshotConsumer, threading.Thread]:
    """Connect and run the snapshot consumer on a daemon thread (the ingest service's few lines)."""
    consumer = SnapshotConsumer.connect(settings, registry)
    thread = threading.Thread(target=consumer.run, args=(stop,), name="snapshot-consumer", daemon=True)
    thread.start()
    return consumer, thread
