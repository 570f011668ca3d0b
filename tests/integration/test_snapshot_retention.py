"""Evidence pictures past their retention are deleted by the snapshot consumer, on real PostgreSQL,
and the API says why a deleted one is gone."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import psycopg
from fastapi.testclient import TestClient
from prometheus_client import CollectorRegistry
from psycopg.types.json import Jsonb

from api.app import create_app
from gridwatch.settings import Settings
from ingest.snapshot_retention import prune_snapshots
from ingest.snapshots import SnapshotConsumer

from .helpers import query
from .test_api_support import FAST, sql

JPEG = b"\xff\xd8\xff\xe0" + bytes(64)


def store_alert_with_snapshot(url: str, alert_id: str, taken_at: datetime) -> None:
    sql(url, "INSERT INTO alerts (id, observed_at, category, type, device_id, site_id, lat, lon, confidence, "
             "grid_path, payload) VALUES (%s, %s, 'parking', 'illegal_parking', 'cam-1', 'site-1', 37.86, 112.55, "
             "0.9, '{}', %s)",
        (alert_id, taken_at, Jsonb({"kind": "alert", "id": alert_id, "attributes": {"snapshot": f"cam-1/{alert_id}.jpg"}})))
    sql(url, "INSERT INTO snapshots (alert_id, camera_id, site_id, taken_at, jpeg) VALUES (%s, 'cam-1', 'site-1', %s, %s)",
        (alert_id, taken_at, JPEG))


def stored(url: str) -> list[str]:
    return [row[0] for row in query(url, "SELECT alert_id FROM snapshots ORDER BY alert_id")]


def test_prune_deletes_only_pictures_older_than_the_cutoff_in_batches(settings_factory) -> None:
    url = settings_factory().database.url
    now = datetime.now(timezone.utc)
    for n in range(5):
        store_alert_with_snapshot(url, f"a-old-{n}", now - timedelta(days=100 + n))
    store_alert_with_snapshot(url, "a-recent", now - timedelta(days=10))
    with psycopg.connect(url) as conn:
        deleted = prune_snapshots(conn, now - timedelta(days=90), batch=2)  # three batches: 2, 2, 1
    assert deleted == 5
    assert stored(url) == ["a-recent"]


def test_the_consumer_prunes_at_start_and_then_once_per_interval(settings_factory) -> None:
    settings: Settings = settings_factory(ingest={"snapshot_retention_days": 30, "snapshot_prune_every_s": 3600})
    url = settings.database.url
    now = datetime.now(timezone.utc)
    store_alert_with_snapshot(url, "a-old", now - timedelta(days=31))
    store_alert_with_snapshot(url, "a-kept", now - timedelta(days=29))
    registry = CollectorRegistry()
    consumer = SnapshotConsumer.connect(settings, registry)
    try:
        assert consumer.prune_if_due() == 1
        store_alert_with_snapshot(url, "a-old-2", now - timedelta(days=40))
        assert consumer.prune_if_due() == 0, "the next prune waits for snapshot_prune_every_s"
    finally:
        consumer.close()
    assert stored(url) == ["a-kept", "a-old-2"]
    assert registry.get_sample_value("gridwatch_ingest_snapshots_pruned_total") == 1.0


def test_api_says_a_picture_was_deleted_after_the_retention(settings_factory) -> None:
    settings: Settings = settings_factory(ingest={"snapshot_retention_days": 30})
    url = settings.database.url
    now = datetime.now(timezone.utc)
    store_alert_with_snapshot(url, "a-gone", now - timedelta(days=45))
    store_alert_with_snapshot(url, "a-pending", now - timedelta(days=1))
    sql(url, "DELETE FROM snapshots")
    with TestClient(create_app(settings, FAST)) as client:
        gone, pending = client.get("/v1/alerts/a-gone/snapshot"), client.get("/v1/alerts/a-pending/snapshot")
    assert gone.status_code == pending.status_code == 404
    assert "deleted after the 30-day retention (ingest.snapshot_retention_days)" in gone.json()["detail"]
    assert "has not reached the server yet" in pending.json()["detail"]
