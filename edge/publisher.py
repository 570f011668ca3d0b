"""Everything the edge sends goes to disk first, then to Kafka from one background thread.

``publish_*`` only appends to the spool (a local commit, milliseconds), so an MQTT callback or a
camera thread never waits for Kafka. The drain thread sends spooled records in order with the
idempotent, ``acks=all`` producer and acknowledges (deletes) a record only after Kafka confirmed
it. If the agent dies between the two, the record is sent again after restart; it keeps its
alert id, and the ingest drops the duplicate.

Kafka may be down when the agent starts, so the producer is created in the drain thread on first
need, with short timeouts, and recreated after a failure; failures back off exponentially up to
``max_backoff_s`` so a dead broker costs a connection attempt every half minute, not a busy loop.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import structlog
from kafka import KafkaProducer
from kafka.errors import (
    CorruptRecordError,
    InvalidRecordError,
    KafkaError,
    MessageSizeTooLargeError,
    RecordListTooLargeError,
)

from edge.metrics import EdgeMetrics
from edge.spool import PRIORITY_HIGH, PRIORITY_LOW, Spool, SpooledRecord, SpoolRecord
from gridwatch.contracts import Alert, Heartbeat
from gridwatch.snapshot import Snapshot
from gridwatch.deadletter import DeadLetter
from gridwatch.backoff import Backoff
from gridwatch.kafka import make_producer
from gridwatch.settings import KafkaSettings

log = structlog.get_logger(__name__)

ProducerFactory = Callable[..., KafkaProducer]

# Short client timeouts: the spool, not the producer's buffer, is where records wait out an outage.
DELIVERY_TIMEOUT_S = 30.0
PRODUCER_OVERRIDES: dict[str, object] = {
    "bootstrap_timeout_ms": 5000,
    "max_block_ms": 5000,
    "request_timeout_ms": 10000,
    "delivery_timeout_ms": int(DELIVERY_TIMEOUT_S * 1000),
}

# Kafka will never take these records, however often they are retried. Left in the spool they
# would block every record behind them, so they are dropped, counted and logged with their id.
UNSENDABLE = (MessageSizeTooLargeError, RecordListTooLargeError, InvalidRecordError, CorruptRecordError)


class DeliveryError(Exception):
    """Some records of a batch were not confirmed by Kafka; they stay in the spool."""


class Publisher:
    """Spool-first Kafka publisher for alerts, snapshots, heartbeats and dead letters."""

    def __init__(
        self,
        kafka: KafkaSettings,
        spool: Spool,
        metrics: EdgeMetrics,
        producer_factory: ProducerFactory = make_producer,
        backoff: Backoff | None = None,
        batch_size: int = 500,
        batch_max_bytes: int = 8 * 1024 * 1024,
    ) -> None:
        self.topics = kafka.topics
        self._kafka = kafka
        self._spool = spool
        self._metrics = metrics
        self._producer_factory = producer_factory
        self._backoff = backoff or Backoff()
        self._batch_size = batch_size
        self._batch_max_bytes = batch_max_bytes
        self._producer: KafkaProducer | None = None
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self.kafka_reachable = False
        metrics.spool_depth.set_function(spool.depth)
        metrics.spool_oldest_age.set_function(spool.oldest_age_s)

    # -- producing side: called from any thread ------------------------------------------------

    def publish_alert(self, alert: Alert) -> int:
        record = SpoolRecord(self.topics.alerts, alert.device_id.encode(), alert.to_json(), alert.id, priority=PRIORITY_HIGH)
        seq = self._append(record)
        self._metrics.alerts.labels(alert.category, alert.type).inc()
        log.info("alert spooled", alert_id=alert.id, category=alert.category, type=alert.type, device_id=alert.device_id)
        return seq

    def publish_snapshot(self, snapshot: Snapshot) -> int:
        """Spool an evidence JPEG; LOW priority, so a full spool gives up pictures before alerts."""
        record = SpoolRecord(self.topics.snapshots, snapshot.alert_id.encode(), snapshot.jpeg, snapshot.alert_id,
                             headers=snapshot.headers(), priority=PRIORITY_LOW)
        seq = self._append(record)
        self._metrics.snapshots.labels(snapshot.camera_id).inc()
        return seq

    def publish_heartbeat(self, heartbeat: Heartbeat) -> int:
        # Only a device's latest state is worth sending after an outage: one unsent heartbeat each.
        key = heartbeat.device_id.encode()
        conflate = f"{self.topics.heartbeats}:{heartbeat.device_id}"
        return self._append(SpoolRecord(self.topics.heartbeats, key, heartbeat.to_json(), conflate=conflate))

    def publish_deadletter(self, letter: DeadLetter) -> int:
        headers = (("reason", letter.reason.encode()), ("source", letter.source.encode()))
        key = letter.key.encode() if letter.key else None
        return self._append(SpoolRecord(self.topics.deadletter, key, letter.to_json(), headers=headers))

    def _append(self, record: SpoolRecord) -> int:
        seq = self._spool.append(record)
        self._wake.set()
        return seq

    # -- draining side: one background thread ----------------------------------------------

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="edge-publisher", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        """Stop draining; unsent records stay in the spool for the next start."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
        self._close_producer()

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def _run(self) -> None:
        while not self._stop.is_set():
            self._wake.clear()
            try:
                sent = self.drain_once()
            except Exception as exc:  # the drain thread must outlive any one failure, or alerts pile up unsent
                self._on_failure(exc)
                continue
            self._backoff.reset()
            if sent == 0:
                self._wake.wait(1.0)

    def drain_once(self) -> int:
        """Send one batch from the spool and ack what Kafka confirmed; returns records confirmed."""
        batch = within_bytes(self._spool.peek(self._batch_size), self._batch_max_bytes)
        if not batch:
            return 0
        producer = self._ensure_producer()
        pending, refused = [], []
        blocked: dict[str, KafkaError] = {}  # topics whose send failed: their later records wait, in order
        for item in batch:
            if item.record.topic in blocked:
                continue
            try:
                pending.append((item, self._send(producer, item)))
            except UNSENDABLE as exc:
                refused.append((item, exc))
            except KafkaError as exc:  # no metadata for its topic, say: the other topics' records still go
                blocked[item.record.topic] = exc
        self._await(producer)
        confirmed = [item for item, future in pending if future.succeeded()]
        refused += [(item, f.exception) for item, f in pending if f.failed() and isinstance(f.exception, UNSENDABLE)]
        self._spool.ack([item.seq for item in confirmed] + [item.seq for item, _ in refused])
        self._count(confirmed, refused)
        unresolved = len(batch) - len(confirmed) - len(refused)
        if unresolved and not self._stop.is_set():
            errors = [repr(f.exception) for _, f in pending if f.failed() and not isinstance(f.exception, UNSENDABLE)]
            errors += [f"{topic}: {exc!r}" for topic, exc in blocked.items()]
            raise DeliveryError(f"{unresolved} of {len(batch)} records unconfirmed: {errors[:1] or 'timed out'}")
        self._set_reachable(True)
        return len(confirmed)

    def _send(self, producer: KafkaProducer, item: SpooledRecord):
        record = item.record
        return producer.send(record.topic, value=record.value, key=record.key, headers=list(record.headers))

    def _await(self, producer: KafkaProducer) -> None:
        """Wait for the batch to resolve (each record does within delivery_timeout_ms) or for stop."""
        deadline = time.monotonic() + DELIVERY_TIMEOUT_S + 5
        while time.monotonic() < deadline and not self._stop.is_set():
            try:
                producer.flush(timeout=0.5)
                return
            except KafkaError:
                continue

    def _count(self, confirmed: list[SpooledRecord], refused: list[tuple[SpooledRecord, BaseException | None]]) -> None:
        for item in confirmed:
            self._metrics.kafka_sent.labels(item.record.topic).inc()
        for item, exc in refused:
            self._metrics.spool_dropped.labels("refused_by_kafka").inc()
            log.error(
                "Kafka refused a record; dropped from the spool",
                topic=item.record.topic, record_id=item.record.record_id, size=item.record.size, error=repr(exc),
            )

    def _ensure_producer(self) -> KafkaProducer:
        if self._producer is None:
            self._producer = self._producer_factory(self._kafka, **PRODUCER_OVERRIDES)
            log.info("connected to Kafka", bootstrap_servers=self._kafka.bootstrap_servers)
        return self._producer

    def _on_failure(self, exc: Exception) -> None:
        self._metrics.kafka_send_failures.inc()
        self._set_reachable(False)
        if not isinstance(exc, DeliveryError):
            self._close_producer()  # could not connect, or the client broke: build a fresh one next time
        delay = self._backoff.next_delay()
        expected = isinstance(exc, (KafkaError, DeliveryError, OSError))
        log.warning(
            "Kafka unavailable; records stay spooled" if expected else "spool drain failed; retrying",
            error=repr(exc), retry_in_s=round(delay, 1), spool_depth=self._spool.depth(), exc_info=not expected,
        )
        self._stop.wait(delay)

    def _set_reachable(self, reachable: bool) -> None:
        self.kafka_reachable = reachable
        self._metrics.kafka_reachable.set(1 if reachable else 0)

    def _close_producer(self) -> None:
        producer, self._producer = self._producer, None
        if producer is not None:
            try:
                producer.close(timeout=2)
            except KafkaError:
                log.debug("error closing the Kafka producer", exc_info=True)


def within_bytes(batch: list[SpooledRecord], max_bytes: int) -> list[SpooledRecord]:
    """The first records of ``batch`` up to ``max_bytes`` (at least one): after an outage the spool
    may hold hundreds of snapshots, more than the producer's 32 MB buffer takes in one go."""
    total = 0
    for n, item in enumerate(batch):
        total += item.record.size
        if total > max_bytes and n > 0:
            return batch[:n]
    return batch


def spool_drop_reporter(metrics: EdgeMetrics) -> Callable[[int, str, str | None], None]:
    """The spool's ``on_drop``: a dropped record is counted and logged, never lost in silence."""

    def report(count: int, bound: str, oldest_id: str | None) -> None:
        metrics.spool_dropped.labels(bound).inc(count)
        log.warning("spool full; oldest records dropped unsent", count=count, bound=bound, oldest_record_id=oldest_id)

    return report
