"""Devices the offline alerts speak of (a button's heartbeat watch, a camera with no frames) are
marked offline in ``devices``; an episode's end is not (the heartbeats bring the online state)."""

from __future__ import annotations

import psycopg
import pytest

from gridwatch.contracts import Heartbeat
from ingest import store

from ..unit.factories import alert_factory

pytestmark = pytest.mark.integration


def test_button_and_camera_offline_alerts_mark_their_devices_offline(database_url: str) -> None:
    alerts = [
        alert_factory("device", type="device_offline", device_id="btn-7", attributes={"device_type": "button"}),
        alert_factory("device", type="camera_offline", device_id="cam-3",
                      attributes={"device_type": "camera", "phase": "start"}),
        alert_factory("device", type="camera_offline", device_id="cam-4",
                      attributes={"device_type": "camera", "phase": "end"}),
        alert_factory("device", type="camera_fault", device_id="cam-5", attributes={"fault": "black"}),
    ]
    with psycopg.connect(database_url) as conn, conn.transaction(), conn.cursor() as cur:
        store.mark_offline_devices(cur, alerts)
    with psycopg.connect(database_url) as conn:
        rows = dict(conn.execute("SELECT device_id, status FROM devices").fetchall())
    assert rows == {"btn-7": "offline", "cam-3": "offline"}


def test_a_heartbeat_whose_attributes_hold_nan_is_stored_with_null(database_url: str) -> None:
    # pydantic's JSON parser reads NaN and Infinity; jsonb refuses them, which once failed the batch on every retry.
    raw = (b'{"kind":"heartbeat","device_id":"btn-9","site_id":"s","device_type":"button",'
           b'"seen_at":"2026-09-09T06:08:08Z","attributes":{"battery_v":NaN,"rssi":[Infinity, -60]}}')
    heartbeat = Heartbeat.model_validate_json(raw)
    with psycopg.connect(database_url) as conn, conn.transaction(), conn.cursor() as cur:
        store.write_heartbeats(cur, [heartbeat])
    with psycopg.connect(database_url) as conn:
        (attributes,) = conn.execute("SELECT attributes FROM devices WHERE device_id = 'btn-9'").fetchone()
    assert attributes == {"battery_v": None, "rssi": [None, -60]}
