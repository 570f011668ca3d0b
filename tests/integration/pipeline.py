"""Helpers for pipeline tests on real servers: run the ingest, produce, consume, wait."""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

import psycopg
from kafka import KafkaConsumer, TopicPartition
from prometheus_client import CollectorRegistry

from gridwatch.kafka import make_producer
from gridwatch.settings import Settings
from ingest.consumer import IngestWorker
from ingest.service import build_worker, run_loop

T = TypeVar("T")


def wait_until(check: Callable[[], T], timeout_s: float = 30.0, every_s: float = 0.1, what: str = "condition") -> T:
    """Poll ``check`` until it returns something truthy; fail with ``what`` after ``timeout_s``."""
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
    producer = make_producer(settings.kafka)
    try:
        futures = [producer.send(topic, key=k.encode(), value=v) for k, v in messages]
        producer.flush()
        for f in futures:
            f.get(timeout=30)
    finally:
        producer.close()


def consume_all(settings: Settings, topic: str, expected: int, timeout_s: float = 30.0) -> list[Any]:
    """Read a topic from the beginning (no group) until ``expected`` records arrived."""
    consumer = KafkaConsumer(bootstrap_servers=settings.kafka.bootstrap_servers, enable_auto_commit=False)
    partitions = [TopicPartition(topic, p) for p in wait_until(lambda: consumer.partitions_for_topic(topic), what=topic)]
    consumer.assign(partitions)
    consumer.seek_to_beginning(*partitions)
    records: list[Any] = []
    deadline = time.monotonic() + timeout_s
    try:
        while len(records) < expected and time.monotonic() < deadline:
            for batch in consumer.poll(timeout_ms=200).values():
                records.extend(batch)
    finally:
        consumer.close()
    return records


@contextmanager
def running_ingest(settings: Settings, grids_file: Any = None) -> Iterator[IngestWorker]:
    """The real ingest worker on a thread, stopped and closed on exit."""
    worker = build_worker(settings, grids_file, CollectorRegistry())
    stop = threading.Event()
    thread = threading.Thread(target=run_loop, args=(worker, stop), daemon=True)
    thread.start()
    try:
        yield worker
    finally:
        stop.set()
        thread.join(timeout=30)
        worker.consumer.close()
        worker.producer.close(timeout=5)
        worker.conn.close()


def settings_env(settings: Settings) -> dict[str, str]:
    """The environment that makes a child process build the same ``Settings``."""
    env = dict(os.environ)

    def flatten(prefix: str, data: dict[str, Any]) -> None:
        for key, value in data.items():
            name = f"{prefix}__{key.upper()}" if prefix != "GRIDWATCH" else f"GRIDWATCH_{key.upper()}"
            if isinstance(value, dict):
                flatten(name, value)
            elif value is not None:
                env[name] = str(value)

    flatten("GRIDWATCH", json.loads(settings.model_dump_json()))
    return env
