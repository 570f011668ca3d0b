"""Spool-to-Kafka bookkeeping: ack only what was confirmed, never block on a refused record.

These drive ``Publisher.drain_once`` with a stand-in producer because they test the publisher's
acking rules, not Kafka; delivery to a real broker is in tests/integration/test_edge_agent.py.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import pytest
from kafka.errors import KafkaTimeoutError, MessageSizeTooLargeError

from edge.buttons import new_alert_id
from edge.metrics import EdgeMetrics
from edge.publisher import DeliveryError, Publisher
from gridwatch.backoff import Backoff
from edge.spool import Spool, SpoolRecord
from gridwatch.contracts import Alert, Heartbeat
from gridwatch.deadletter import DeadLetter
from gridwatch.settings import KafkaSettings
from gridwatch.snapshot import Snapshot, SnapshotError
from edge.config import SpoolConfig


T0 = datetime(2026, 9, 9, 6, 0, tzinfo=timezone.utc)


def alert_factory() -> Alert:
    return Alert(id=new_alert_id(), category="alarm", type="alarm_button", device_id="btn-1",
                 site_id="s", lat=37.86, lon=112.55, observed_at=T0, confidence=1.0)


@dataclass
class Outcome:
    error: Exception | None = None

    def succeeded(self) -> bool:
        return self.error is None

    def failed(self) -> bool:
        return self.error is not None

    @property
    def exception(self) -> Exception | None:
        return self.error


@dataclass
class FakeProducer:
    """Confirms every record except those whose value is in ``fail`` (async) or ``refuse`` (sync)."""

    fail: dict[bytes, Exception] = field(default_factory=dict)
    refuse: dict[bytes, Exception] = field(default_factory=dict)
    sent: list[tuple[str, bytes | None, bytes, list]] = field(default_factory=list)

    def send(self, topic: str, value: bytes, key: bytes | None, headers: list) -> Outcome:
        if value in self.refuse:
            raise self.refuse[value]
        self.sent.append((topic, key, value, headers))
        return Outcome(self.fail.get(value))

    def flush(self, timeout: float | None = None) -> None:
        return None

    def close(self, timeout: float | None = None) -> None:
        return None


@pytest.fixture
def spool(tmp_path: Path) -> Spool:
    with Spool(tmp_path / "s.sqlite3") as spool:
        yield spool


def publisher_with(spool: Spool, producer: FakeProducer) -> tuple[Publisher, EdgeMetrics]:
    metrics = EdgeMetrics()
    return Publisher(KafkaSettings(), spool, metrics, producer_factory=lambda *a, **k: producer), metrics


def fill(spool: Spool, n: int) -> None:
    for i in range(n):
        spool.append(SpoolRecord("gridwatch.alerts", b"btn", b"v%d" % i, f"a-{i}"))


def test_confirmed_records_are_acked_in_order(spool: Spool) -> None:
    producer = FakeProducer()
    publisher, metrics = publisher_with(spool, producer)
    fill(spool, 3)
    assert publisher.drain_once() == 3
    assert [value for _, _, value, _ in producer.sent] == [b"v0", b"v1", b"v2"]
    assert spool.depth() == 0
    assert publisher.kafka_reachable
    assert metrics.registry.get_sample_value("gridwatch_edge_kafka_sent_total", {"topic": "gridwatch.alerts"}) == 3


def test_unconfirmed_records_stay_spooled(spool: Spool) -> None:
    publisher, _ = publisher_with(spool, FakeProducer(fail={b"v1": KafkaTimeoutError("no leader")}))
    fill(spool, 3)
    with pytest.raises(DeliveryError, match="1 of 3 records unconfirmed"):
        publisher.drain_once()
    assert [p.record.value for p in spool.peek()] == [b"v1"]


@pytest.mark.parametrize("where", ["fail", "refuse"])
def test_record_kafka_will_never_take_is_dropped_not_retried_forever(spool: Spool, where: str) -> None:
    producer = FakeProducer(**{where: {b"v0": MessageSizeTooLargeError("too big")}})
    publisher, metrics = publisher_with(spool, producer)
    fill(spool, 2)
    assert publisher.drain_once() == 1
    assert spool.depth() == 0, "a poison record must not block the records behind it"
    assert metrics.registry.get_sample_value("gridwatch_edge_spool_dropped_total", {"bound": "refused_by_kafka"}) == 1


def test_dead_letters_carry_reason_and_source_headers(spool: Spool) -> None:
    producer = FakeProducer()
    publisher, _ = publisher_with(spool, producer)
    publisher.publish_deadletter(DeadLetter("mqtt", "not valid JSON", "garbage", topic="t", key="btn-1"))
    publisher.drain_once()
    [(topic, key, value, headers)] = producer.sent
    assert (topic, key) == ("gridwatch.deadletter", b"btn-1")
    assert headers == [("reason", b"not valid JSON"), ("source", b"mqtt")]
    assert DeadLetter.from_json(value).payload == "garbage"


def test_heartbeats_conflate_per_device_and_alerts_do_not(spool: Spool) -> None:
    publisher, _ = publisher_with(spool, FakeProducer())
    for _ in range(3):
        for device in ("cam-1", "cam-2"):
            publisher.publish_heartbeat(Heartbeat(device_id=device, site_id="s", device_type="camera", seen_at=T0))
        publisher.publish_alert(alert_factory())
    topics = [p.record.topic for p in spool.peek()]
    assert topics.count("gridwatch.heartbeats") == 2
    assert topics.count("gridwatch.alerts") == 3


def test_drain_thread_outlives_an_unexpected_error(spool: Spool) -> None:
    producer = FakeProducer()
    attempts: list[int] = []

    def flaky_factory(*args: object, **kwargs: object) -> FakeProducer:
        attempts.append(1)
        if len(attempts) == 1:
            raise RuntimeError("client bug")
        return producer

    publisher = Publisher(KafkaSettings(), spool, EdgeMetrics(), producer_factory=flaky_factory,
                          backoff=Backoff(initial_s=0.01, max_s=0.01))
    fill(spool, 2)
    publisher.start()
    try:
        deadline = time.monotonic() + 10
        while spool.depth() and time.monotonic() < deadline:
            time.sleep(0.01)
    finally:
        publisher.stop()
    assert spool.depth() == 0
    assert len(attempts) == 2
    assert [value for _, _, value, _ in producer.sent] == [b"v0", b"v1"]


def test_backoff_doubles_up_to_its_cap_and_resets() -> None:
    backoff = Backoff(initial_s=1, max_s=8)
    for cap in [1, 2, 4, 8, 8, 8]:
        assert 0.8 * cap <= backoff.next_delay() <= cap  # jitter takes off at most a fifth
    backoff.reset()
    assert backoff.next_delay() <= 1


def test_backoff_stays_at_its_cap_through_a_days_outage() -> None:
    # 2**attempt overflowed a float after 1024 failures (8.5 h at a 30 s cap) and killed the thread waiting.
    backoff = Backoff(initial_s=0.5, max_s=30, jitter=0)
    assert [backoff.next_delay() for _ in range(3000)][-1] == 30


def snapshot_factory(alert_id: str = "a-1", size: int = 1000) -> Snapshot:
    return Snapshot(alert_id, "cam-1", "site-1", T0, b"\xff\xd8\xff" + bytes(size - 3))


def test_snapshots_go_keyed_by_alert_id_with_their_headers_and_parse_back(spool: Spool) -> None:
    producer = FakeProducer()
    publisher, metrics = publisher_with(spool, producer)
    publisher.publish_snapshot(snapshot_factory("a-42"))
    assert publisher.drain_once() == 1
    [(topic, key, value, headers)] = producer.sent
    assert (topic, key, len(value)) == ("gridwatch.snapshots", b"a-42", 1000)
    assert dict(headers) == {"alert_id": b"a-42", "camera_id": b"cam-1", "site_id": b"site-1",
                             "taken_at": b"2026-09-09T06:00:00.000Z", "content_type": b"image/jpeg"}
    back = Snapshot.from_message(key, value, headers)
    assert (back.alert_id, back.camera_id, back.taken_at, back.jpeg) == ("a-42", "cam-1", T0, value)
    assert metrics.registry.get_sample_value("gridwatch_edge_snapshots_total", {"camera": "cam-1"}) == 1


def test_a_full_spool_gives_up_snapshots_before_alerts(tmp_path: Path) -> None:
    with Spool(tmp_path / "s.sqlite3", SpoolConfig(max_bytes=30_000)) as spool:
        publisher, _ = publisher_with(spool, FakeProducer())
        alert = alert_factory()
        publisher.publish_snapshot(snapshot_factory("a-old", 12_000))
        publisher.publish_alert(alert)
        publisher.publish_snapshot(snapshot_factory("a-new", 12_000))
        publisher.publish_snapshot(snapshot_factory("a-newer", 12_000))
        assert [r.record.record_id for r in spool.peek()] == [alert.id, "a-new", "a-newer"]


def test_a_drain_batch_is_bounded_in_bytes_but_never_empty(spool: Spool) -> None:
    producer = FakeProducer()
    publisher = Publisher(KafkaSettings(), spool, EdgeMetrics(), producer_factory=lambda *a, **k: producer,
                          batch_max_bytes=25_000)
    for i in range(5):
        publisher.publish_snapshot(snapshot_factory(f"a-{i}", 10_000 + i))
    assert publisher.drain_once() == 2 and spool.depth() == 3
    huge = Publisher(KafkaSettings(), spool, EdgeMetrics(), producer_factory=lambda *a, **k: producer,
                     batch_max_bytes=100)
    assert huge.drain_once() == 1, "a record larger than the byte bound still goes, alone"


@pytest.mark.parametrize(
    ("key", "value", "headers", "problem"),
    [
        (b"a-1", b"\xff\xd8\xff" + bytes(10), [("alert_id", b"a-1"), ("taken_at", b"2026-09-09T06:00:00Z")],
         "missing header(s) camera_id"),
        (b"a-2", b"\xff\xd8\xff", [("alert_id", b"a-1"), ("camera_id", b"c"), ("taken_at", b"2026-09-09T06:00:00Z")],
         "differs from header alert_id"),
        (b"a-1", b"GIF89a", [("alert_id", b"a-1"), ("camera_id", b"c"), ("taken_at", b"2026-09-09T06:00:00Z")],
         "value is not a JPEG"),
        (b"a-1", None, [("alert_id", b"a-1"), ("camera_id", b"c"), ("taken_at", b"2026-09-09T06:00:00Z")],
         "value is not a JPEG"),
        (b"a-1", b"\xff\xd8\xff", [("alert_id", b"a-1"), ("camera_id", b"c"), ("taken_at", b"yesterday")],
         "taken_at 'yesterday' is not an RFC 3339 time"),
        (b"a-1", b"\xff\xd8\xff" + bytes(1_000_000), [("alert_id", b"a-1"), ("camera_id", b"c"),
                                                       ("taken_at", b"2026-09-09T06:00:00Z")], "exceeds 1000000"),
    ],
)
def test_unusable_snapshot_messages_are_named(key: bytes, value: bytes | None, headers: list, problem: str) -> None:
    with pytest.raises(SnapshotError, match=re.escape(problem)):
        Snapshot.from_message(key, value, headers)


def test_a_topic_kafka_cannot_take_now_holds_back_only_its_own_records(spool: Spool) -> None:
    # No metadata for the deadletter topic (not created yet): its record and the ones behind it on that
    # topic wait in order; the alerts around it go, each sent once, and are acked.
    letter = DeadLetter("mqtt", "not JSON", "garbage").to_json()
    producer = FakeProducer(refuse={letter: KafkaTimeoutError("Failed to update metadata after 5.0 secs.")})
    publisher, _ = publisher_with(spool, producer)
    spool.append(SpoolRecord("gridwatch.alerts", b"btn", b"v0", "a-0"))
    spool.append(SpoolRecord("gridwatch.deadletter", None, letter, "d-1"))
    spool.append(SpoolRecord("gridwatch.deadletter", None, b"second letter", "d-2"))
    spool.append(SpoolRecord("gridwatch.alerts", b"btn", b"v1", "a-1"))
    for _ in range(2):
        with pytest.raises(DeliveryError, match="gridwatch.deadletter: KafkaTimeoutError"):
            publisher.drain_once()
    assert [value for topic, _, value, _ in producer.sent] == [b"v0", b"v1"]  # once each, the second letter held
    assert [item.record.record_id for item in spool.peek(10)] == ["d-1", "d-2"]
