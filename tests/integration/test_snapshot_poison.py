"""A snapshot that PostgreSQL refuses on its data (one no check in ``gridwatch.snapshot`` knew of) is
dead-lettered alone by the snapshot consumer, on real Kafka and PostgreSQL: the pictures beside it
and after it are stored, and the offsets move past it (before, its batch failed on every re-read)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from kafka import KafkaConsumer, TopicPartition

from gridwatch.deadletter import DeadLetter
from gridwatch.kafka import make_producer
from gridwatch.settings import Settings
from gridwatch.snapshot import Snapshot
from ingest.snapshots import snapshot_group

from .helpers import query, read_topic, wait_until
from .pipeline import running_snapshot_consumer
from .test_api_support import sql

T0 = datetime.now(timezone.utc).replace(microsecond=0) - timedelta(hours=1)
PARTITION = 0  # all on one partition, in order: the later picture sits behind the refused one
REFUSED = ("could not be stored: CheckViolation: "
           'new row for relation "snapshots" violates check constraint "refuse_a_poison"')


def snapshot(alert_id: str, minutes: int) -> Snapshot:
    return Snapshot(alert_id, "cam-1", "site-1", T0 + timedelta(minutes=minutes), b"\xff\xd8\xff\xe0" + bytes(64))


def produce_snapshots(settings: Settings, snapshots: list[Snapshot]) -> list[int]:
    """Send as the edge does (key = alert id, the JPEG, its headers); returns their offsets."""
    producer = make_producer(settings.kafka)
    try:
        futures = [producer.send(settings.kafka.topics.snapshots, key=s.alert_id.encode(), value=s.jpeg,
                                 headers=list(s.headers()), partition=PARTITION) for s in snapshots]
        producer.flush()
        return [future.get(timeout=30).offset for future in futures]
    finally:
        producer.close()


def committed_offset(settings: Settings) -> int | None:
    """The snapshot consumer group's committed offset on ``PARTITION`` (read without joining the group)."""
    reader = KafkaConsumer(bootstrap_servers=settings.kafka.bootstrap_servers, group_id=snapshot_group(settings),
                           enable_auto_commit=False)
    try:
        return reader.committed(TopicPartition(settings.kafka.topics.snapshots, PARTITION))
    finally:
        reader.close()


def stored(url: str) -> list[str]:
    return [row[0] for row in query(url, "SELECT alert_id FROM snapshots ORDER BY alert_id")]


def test_a_snapshot_the_database_refuses_is_dead_lettered_and_the_others_are_stored(settings_factory) -> None:
    settings: Settings = settings_factory()
    url, topics = settings.database.url, settings.kafka.topics
    # Stands in for a value PostgreSQL refuses that decode did not catch: it fails on every retry.
    sql(url, "ALTER TABLE snapshots ADD CONSTRAINT refuse_a_poison CHECK (alert_id <> 'a-poison')")
    first = [snapshot("a-1", 0), snapshot("a-2", 1), snapshot("a-poison", 2), snapshot("a-3", 3), snapshot("a-4", 4)]
    offsets = produce_snapshots(settings, first)
    with running_snapshot_consumer(settings) as consumer:
        wait_until(lambda: stored(url) == ["a-1", "a-2", "a-3", "a-4"], timeout_s=90,
                   what="the four snapshots beside the refused one stored")
        [later_offset] = produce_snapshots(settings, [snapshot("a-5", 5)])
        wait_until(lambda: "a-5" in stored(url), timeout_s=60, what="a snapshot produced afterwards stored")
        wait_until(lambda: committed_offset(settings) == later_offset + 1, what="the offsets committed past it all")
        rejected, stored_total = consumer.metrics.rejected._value.get(), consumer.metrics.stored._value.get()
    assert stored(url) == ["a-1", "a-2", "a-3", "a-4", "a-5"]
    assert (rejected, stored_total) == (1, 5)
    [letter] = [DeadLetter.from_json(r.value) for r in read_topic(settings, topics.deadletter)]
    assert (letter.reason, letter.topic, letter.key) == (REFUSED, topics.snapshots, "a-poison")
    assert (letter.context["partition"], letter.context["offset"]) == (PARTITION, offsets[2])
    assert letter.context["headers"]["alert_id"] == "a-poison"
