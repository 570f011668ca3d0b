"""Kafka clients configured the GridWatch way (kafka-python), shared by edge, ingest and API."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable
from typing import Any

from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer, TopicPartition
from kafka.admin import NewTopic
from kafka.errors import TopicAlreadyExistsError
from kafka.structs import OffsetAndMetadata

from gridwatch.settings import KafkaSettings

log = logging.getLogger(__name__)

TOPIC_PARTITIONS = 6


def make_producer(settings: KafkaSettings, **overrides: object) -> KafkaProducer:
    """An idempotent producer with acks=all: a retried send is written once per partition."""
    config: dict[str, object] = {
        "bootstrap_servers": settings.bootstrap_servers,
        "client_id": settings.client_id,
        "acks": "all",
        "enable_idempotence": True,
        "linger_ms": 5,
        "batch_size": 262144,
        "compression_type": None,
    }
    config.update(overrides)
    return KafkaProducer(**config)


def make_consumer(settings: KafkaSettings, topics: Iterable[str], group_id: str, **overrides: object) -> KafkaConsumer:
    """A group consumer that never commits on its own: the caller commits after its effects are stored."""
    config: dict[str, object] = {
        "bootstrap_servers": settings.bootstrap_servers,
        "client_id": settings.client_id,
        "group_id": group_id,
        "enable_auto_commit": False,
        "auto_offset_reset": "earliest",
        "max_poll_records": 2000,
        # One fetch brings a whole batch from a partition (alerts are ~400 bytes: 4 MiB is ~10,000),
        # so a poll rarely waits on a round trip to the broker while the ingest is behind.
        "max_partition_fetch_bytes": 4 * 1024 * 1024,
        "fetch_max_bytes": 64 * 1024 * 1024,
        "isolation_level": "read_committed",
        # A topic created just before the group formed is missing from the first assignment; the
        # next metadata refresh triggers a rebalance that assigns it, so keep that refresh short.
        "metadata_max_age_ms": 5000,
    }
    config.update(overrides)
    consumer = KafkaConsumer(**config)
    names = list(topics)
    _await_partitions(consumer, names)
    consumer.subscribe(names)
    return consumer


def _await_partitions(consumer: KafkaConsumer, topics: list[str], timeout_s: float = 10.0) -> None:
    """Fetch the topics' partitions before joining the group: a member that leads the group's first
    assignment without them assigns nothing, and kafka-python did not always rebalance on the next
    metadata refresh (a new group then waited over 90 s for records on a topic it was subscribed to)."""
    deadline = time.monotonic() + timeout_s
    missing = topics
    while missing and time.monotonic() < deadline:
        missing = [t for t in missing if not consumer.partitions_for_topic(t)]
        if missing:
            time.sleep(0.2)
    if missing:
        log.warning("no partitions known for %s after %.0f s; joining the group anyway", missing, timeout_s)


def next_offsets(records: Iterable[Any]) -> dict[TopicPartition, OffsetAndMetadata]:
    """The offsets to commit once ``records`` are handled: per partition, one past the last record."""
    last: dict[tuple[str, int], int] = {}  # plain tuples: a TopicPartition per record costs more than the rest
    for r in records:
        key = (r.topic, r.partition)
        if r.offset >= last.get(key, 0):
            last[key] = r.offset + 1
    return {TopicPartition(*key): OffsetAndMetadata(offset, "", -1) for key, offset in last.items()}


def rewind_to_committed(consumer: KafkaConsumer) -> None:
    """Move each assigned partition back to its committed offset (the beginning when none was
    committed), so that what was polled but not committed is read again."""
    for tp in consumer.assignment():
        committed = consumer.committed(tp)
        if committed is None:
            consumer.seek_to_beginning(tp)
        else:
            consumer.seek(tp, committed)


def _wait_for_leaders(admin: KafkaAdminClient, names: list[str], timeout_s: float = 30.0) -> None:
    """Return once every partition of ``names`` has a leader, so consumers see the topics whole."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        described = admin.describe_topics(names)
        if all(t.get("error_code", 0) == 0 and t["partitions"] and all(p.get("leader_id", -1) >= 0 for p in t["partitions"])
               for t in described):
            return
        time.sleep(0.1)
    log.warning("topics still without leaders after %.0f s: %s", timeout_s, names)


def ensure_topics(settings: KafkaSettings, partitions: int = TOPIC_PARTITIONS) -> list[str]:
    """Create GridWatch's topics where missing; return the ones created."""
    topics = settings.topics
    names = [topics.alerts, topics.reports, topics.incidents, topics.heartbeats, topics.deadletter, topics.snapshots]
    admin = KafkaAdminClient(bootstrap_servers=settings.bootstrap_servers, client_id=settings.client_id)
    try:
        existing = set(admin.list_topics())
        missing = [n for n in names if n not in existing]
        if missing:
            try:
                admin.create_topics([NewTopic(n, partitions, 1) for n in missing])
            except TopicAlreadyExistsError:
                log.info("topics created concurrently by another service")
            _wait_for_leaders(admin, missing)
        return missing
    finally:
        admin.close()
