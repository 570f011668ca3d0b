"""Small helpers for tests on real servers: wait, read and write Kafka, MQTT and PostgreSQL."""

from __future__ import annotations

import json
import os
import secrets
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import paho.mqtt.client as paho
import psycopg
from kafka import KafkaConsumer, TopicPartition
from paho.mqtt.enums import CallbackAPIVersion

from gridwatch.kafka import make_producer
from gridwatch.settings import Settings

REPO = Path(__file__).resolve().parents[2]
T = TypeVar("T")


def wait_until(check: Callable[[], T], timeout_s: float = 30.0, what: str = "condition", every_s: float = 0.1) -> T:
    """Poll ``check`` until it returns something truthy; fail naming ``what`` after ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s:.0f} s waiting for {what} (last: {value!r})")
        time.sleep(every_s)


def query(url: str, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    with psycopg.connect(url) as conn:
        return conn.execute(sql, params).fetchall()


def produce(settings: Settings, topic: str, messages: list[tuple[str, bytes]]) -> None:
    """Send ``(key, value)`` pairs and wait until Kafka acknowledged each."""
    producer = make_producer(settings.kafka)
    try:
        futures = [producer.send(topic, key=k.encode(), value=v) for k, v in messages]
        producer.flush()
        for future in futures:
            future.get(timeout=30)
    finally:
        producer.close()


def read_topic(settings: Settings, topic: str) -> list[Any]:
    """Every record on ``topic`` up to its current end, all partitions, no consumer group."""
    consumer = KafkaConsumer(bootstrap_servers=settings.kafka.bootstrap_servers, enable_auto_commit=False)
    try:
        partitions = [TopicPartition(topic, p) for p in wait_until(lambda: consumer.partitions_for_topic(topic), what=topic)]
        consumer.assign(partitions)
        consumer.seek_to_beginning(*partitions)
        end = consumer.end_offsets(partitions)
        records: list[Any] = []
        deadline = time.monotonic() + 30
        while any(consumer.position(tp) < end[tp] for tp in partitions) and time.monotonic() < deadline:
            for batch in consumer.poll(timeout_ms=200).values():
                records.extend(batch)
        return records
    finally:
        consumer.close()


def wait_for_records(settings: Settings, topic: str, count: int, what: str) -> list[Any]:
    def enough() -> list[Any] | None:
        records = read_topic(settings, topic)
        return records if len(records) >= count else None

    return wait_until(enough, what=what)


def mqtt_publish(port: int, messages: list[tuple[str, bytes]]) -> None:
    """Publish at QoS 1 in order, each acknowledged by the broker before the next."""
    client = paho.Client(CallbackAPIVersion.VERSION2, client_id=f"test-{secrets.token_hex(4)}")
    client.connect("127.0.0.1", port)
    client.loop_start()
    try:
        for topic, payload in messages:
            client.publish(topic, payload, qos=1).wait_for_publish(timeout=10)
    finally:
        client.disconnect()
        client.loop_stop()


def settings_env(settings: Settings) -> dict[str, str]:
    """Environment from which a child's ``Settings()`` rebuilds ``settings`` (and nothing else)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("GRIDWATCH_")}

    def flatten(prefix: str, data: dict[str, Any]) -> None:
        for key, value in data.items():
            name = f"{prefix}{key.upper()}"
            if isinstance(value, dict):
                flatten(name + "__", value)
            elif value is not None:
                env[name] = str(value)

    flatten("GRIDWATCH_", json.loads(settings.model_dump_json()))
    env["PYTHONPATH"] = str(REPO)
    return env
