"""Shared fixtures and helpers for the API's integration tests (no tests here).

Rows are inserted with plain SQL, the way the ingest would have left them, so these tests depend
on the schema and not on the incident engine. Imported by the ``test_api_*`` modules; pytest finds
the fixtures through those imports.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from typing import Any, TypeVar

import psycopg
import pytest
import uvicorn
from fastapi.testclient import TestClient
from kafka import KafkaConsumer, TopicPartition
from kafka.consumer.fetcher import ConsumerRecord
from psycopg.types.json import Jsonb

from api.app import create_app
from api.deps import ApiTuning
from gridwatch.settings import Settings

T = TypeVar("T")
# Short waits so a broken feed or a down Kafka fails a test in seconds, not minutes.
FAST = ApiTuning(publish_timeout_s=3.0, feed_poll_s=0.1, feed_keepalive_s=1.0, feed_gap_grace_s=2.0, db_timeout_s=3.0)
T0 = datetime(2026, 9, 9, 6, 0, tzinfo=timezone.utc)


@pytest.fixture
def api_settings(settings_factory: Callable[..., Settings]) -> Settings:
    return settings_factory()


@pytest.fixture
def client(api_settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(api_settings, FAST)) as test_client:
        yield test_client


def wait_until(check: Callable[[], T], timeout_s: float = 20.0, what: str = "condition") -> T:
    deadline = time.monotonic() + timeout_s
    while not (value := check()):
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s:.0f} s waiting for {what}")
        time.sleep(0.05)
    return value


def sql(url: str, query: str, params: tuple[Any, ...] | dict[str, Any] = ()) -> list[tuple[Any, ...]]:
    with psycopg.connect(url, autocommit=True) as conn:
        cur = conn.execute(query, params)
        return cur.fetchall() if cur.description else []


def consume(bootstrap: str, topic: str, expected: int, timeout_s: float = 20.0) -> list[ConsumerRecord]:
    """Read ``topic`` from the beginning without a group until ``expected`` records came."""
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False, consumer_timeout_ms=200)
    try:
        partitions = wait_until(lambda: consumer.partitions_for_topic(topic), what=f"topic {topic}")
        assigned = [TopicPartition(topic, p) for p in partitions]
        consumer.assign(assigned)
        consumer.seek_to_beginning(*assigned)
        records: list[ConsumerRecord] = []
        deadline = time.monotonic() + timeout_s
        while len(records) < expected and time.monotonic() < deadline:
            records.extend(consumer)
        return records
    finally:
        consumer.close()


def insert_grid(url: str, grid_id: str, level: str, parent_id: str | None, name: str = "") -> None:
    square = {"type": "Polygon", "coordinates": [[[112.5, 37.8], [112.6, 37.8], [112.6, 37.9], [112.5, 37.8]]]}
    sql(url, "INSERT INTO grids (id, name, level, parent_id, geometry, map_version, ord) "
             "VALUES (%s, %s, %s, %s, %s, 'test', 0)", (grid_id, name or grid_id, level, parent_id, Jsonb(square)))


def insert_incident(url: str, incident_id: str, *, status: str = "open", category: str = "fire", risk: str = "red",
                    grid_path: tuple[str, ...] = ("G1", "C1", "S1", "D1"), minutes: float = 0,
                    members: list[dict[str, Any]] | None = None) -> None:
    """An incident as the ingest stores it: ``grid_path`` is the grid and its ancestors, finest first."""
    seen = T0 + timedelta(minutes=minutes)
    members = members if members is not None else [{"id": f"a-{incident_id}", "kind": "alert", "rule": "seed"}]
    sql(url,
        """INSERT INTO incidents (id, category, grid_id, grid_path, status, risk, level, lat, lon, first_seen,
                                  last_seen, alert_ids, report_ids, members)
           VALUES (%s, %s, %s, %s, %s, %s, 'grid', 37.86, 112.55, %s, %s, %s, %s, %s)""",
        (incident_id, category, grid_path[0] if grid_path else None, list(grid_path), status, risk, seen, seen,
         [m["id"] for m in members if m["kind"] == "alert"], [m["id"] for m in members if m["kind"] == "report"],
         Jsonb(members)))
    sql(url, "INSERT INTO incident_history (incident_id, seq, at, actor, action, status, reason) "
             "VALUES (%s, 1, %s, 'engine', 'raise', 'open', 'first alert')", (incident_id, seen))


def _free_socket() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))  # the kernel picks a free port; no collisions between parallel runs
    return sock


@contextmanager
def live_server(settings: Settings, tuning: ApiTuning = FAST) -> Iterator[str]:
    """The app under real uvicorn on a free port, for streaming (TestClient buffers an endless stream)."""
    sock = _free_socket()
    config = uvicorn.Config(create_app(settings, tuning), log_level="warning", timeout_graceful_shutdown=1)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        wait_until(lambda: server.started, what="uvicorn to start")
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()
