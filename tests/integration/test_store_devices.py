"""Devices the offline alerts speak of (a button's heartbeat watch, a camera with no frames) are
marked offline in ``devices``; an episode's end is not (the heartbeats bring the online state)."""

from __future__ import annotations

import psycopg
import pytest

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
