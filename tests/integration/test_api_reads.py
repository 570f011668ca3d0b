"""The read-only resources on a real database: alerts, reports, devices, grids, hourly stats,
dead letters, and the health and metrics endpoints."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta, timezone

import pytest
from fastapi.testclient import TestClient
from psycopg.types.json import Jsonb

from api.app import create_app
from gridwatch.settings import DatabaseSettings, Settings

from .test_api_support import FAST, T0, insert_grid, insert_incident, sql

pytestmark = pytest.mark.integration
pytest_plugins = ("tests.integration.test_api_support",)  # fixtures: api_settings, client


def _alert(url: str, alert_id: str, minutes: float, grid_path: list[str], device: str = "cam-1",
           category: str = "fire", incident_id: str | None = None) -> None:
    payload = {"kind": "alert", "id": alert_id, "attributes": {"zone": "fire-lane-1"}}
    sql(url, """INSERT INTO alerts (id, observed_at, category, type, device_id, site_id, lat, lon, confidence,
                                    grid_id, grid_path, incident_id, payload)
                VALUES (%s, %s, %s, 'smoke', %s, 'site-1', 37.86, 112.55, 0.8, %s, %s, %s, %s)""",
        (alert_id, T0 + timedelta(minutes=minutes), category, device, grid_path[0] if grid_path else None, grid_path,
         incident_id, Jsonb(payload)))


@pytest.fixture
def grids(api_settings: Settings) -> str:
    url = api_settings.database.url
    insert_grid(url, "D1", "district", None, "迎泽区")
    insert_grid(url, "S1", "street", "D1")
    insert_grid(url, "C1", "community", "S1")
    insert_grid(url, "G1", "grid", "C1")
    insert_grid(url, "G2", "grid", "C1")
    return url


def test_alerts_filter_by_grid_subtree_and_device(client: TestClient, api_settings: Settings) -> None:
    url = api_settings.database.url
    _alert(url, "a-1", 0, ["G1", "C1"], incident_id="i-1")
    _alert(url, "a-2", 5, ["G2", "C1"], device="cam-2")
    _alert(url, "a-3", 9, ["G9", "C9"], category="crowd")

    everything = client.get("/v1/alerts").json()["items"]
    assert [a["id"] for a in everything] == ["a-3", "a-2", "a-1"]
    assert everything[2]["attributes"] == {"zone": "fire-lane-1"}
    assert (everything[2]["grid_id"], everything[2]["incident_id"]) == ("G1", "i-1")
    assert [a["id"] for a in client.get("/v1/alerts", params={"grid_id": "C1"}).json()["items"]] == ["a-2", "a-1"]
    assert [a["id"] for a in client.get("/v1/alerts", params={"device_id": "cam-2"}).json()["items"]] == ["a-2"]
    since = {"since": "2026-09-09T06:05:00Z", "category": "fire"}
    assert [a["id"] for a in client.get("/v1/alerts", params=since).json()["items"]] == ["a-2"]


def test_reports_carry_photos_and_accuracy(client: TestClient, api_settings: Settings) -> None:
    url = api_settings.database.url
    payload = {"photos": ["s3://p/1.jpg"], "accuracy_m": 7.5}
    sql(url, "INSERT INTO reports (id, reported_at, category, worker_id, lat, lon, text, grid_id, grid_path, payload) "
             "VALUES ('r-1', %s, 'hazard', 'w-017', 37.86, 112.55, '松动', 'G1', '{G1,C1}', %s)", (T0, Jsonb(payload)))

    [report] = client.get("/v1/reports", params={"worker_id": "w-017", "grid_id": "C1"}).json()["items"]

    assert (report["photos"], report["accuracy_m"], report["text"]) == (["s3://p/1.jpg"], 7.5, "松动")


def test_devices_offline_first_and_detail_with_heartbeats(client: TestClient, api_settings: Settings) -> None:
    url = api_settings.database.url
    now = datetime.now(timezone.utc)
    for device, status, age in (("cam-1", "online", 10), ("btn-1", "offline", 600), ("cam-2", "online", 900)):
        sql(url, "INSERT INTO devices VALUES (%s, 'site-1', 'camera', %s, %s, '{}')",
            (device, status, now - timedelta(seconds=age)))
    for age in (10, 40, 70):
        sql(url, "INSERT INTO device_heartbeats VALUES ('cam-1', %s, 'site-1', 'camera', 'online', '{}')",
            (now - timedelta(seconds=age),))

    listed = client.get("/v1/devices").json()
    detail = client.get("/v1/devices/cam-1", params={"heartbeats": 2}).json()

    assert [d["device_id"] for d in listed["items"]] == ["btn-1", "cam-2", "cam-1"]
    assert 899 < listed["items"][1]["silent_s"] < 960
    offline = client.get("/v1/devices", params={"status": "offline"}).json()["items"]
    assert [d["device_id"] for d in offline] == ["btn-1"]
    assert len(detail["heartbeats"]) == 2 and detail["heartbeats"][0]["seen_at"] > detail["heartbeats"][1]["seen_at"]
    assert client.get("/v1/devices/nope").status_code == 404


def test_grids_list_and_detail(client: TestClient, grids: str) -> None:
    insert_incident(grids, "i-open", grid_path=("G1", "C1", "S1", "D1"))
    insert_incident(grids, "i-work", status="in_progress", grid_path=("G2", "C1", "S1", "D1"))
    insert_incident(grids, "i-done", status="closed", grid_path=("G2", "C1", "S1", "D1"))

    flat = client.get("/v1/grids").json()
    community = client.get("/v1/grids/C1").json()

    assert [(g["id"], g["parent_id"]) for g in flat] == [("D1", None), ("S1", "D1"), ("C1", "S1"), ("G1", "C1"),
                                                         ("G2", "C1")]
    assert [g["id"] for g in client.get("/v1/grids", params={"level": "grid"}).json()] == ["G1", "G2"]
    assert community["children"] == ["G1", "G2"]
    assert community["open_incidents"] == 2
    assert community["geometry"]["type"] == "Polygon"
    assert client.get("/v1/grids/D1").json()["name"] == "迎泽区"
    assert client.get("/v1/grids/X").status_code == 404


def test_hourly_stats_sum_a_grid_subtree(client: TestClient, grids: str) -> None:
    recent = datetime.now(timezone.utc).replace(minute=0, second=0, microsecond=0) - timedelta(hours=2)
    minutes = (recent - T0).total_seconds() / 60
    _alert(grids, "a-1", minutes + 1, ["G1", "C1"])
    _alert(grids, "a-2", minutes + 2, ["G1", "C1"])
    _alert(grids, "a-3", minutes + 3, ["G2", "C1"])
    _alert(grids, "a-4", minutes + 4, ["G9"])  # another community

    rows = client.get("/v1/stats/hourly", params={"grid_id": "C1"}).json()
    old = client.get("/v1/stats/hourly", params={"grid_id": "C1", "since": "2020-01-01T00:00:00Z"}).json()

    assert sorted((r["grid_id"], r["alerts"]) for r in rows) == [("G1", 2), ("G2", 1)]
    assert {r["bucket"] for r in rows} == {recent.strftime("%Y-%m-%dT%H:00:00.000Z")}
    assert len(old) == 2


def test_dead_letters_newest_first_filtered_by_source(client: TestClient, api_settings: Settings) -> None:
    url = api_settings.database.url
    for minutes, source in ((0, "kafka"), (1, "api"), (2, "mqtt")):
        sql(url, "INSERT INTO dead_letters (received_at, source, reason, payload) VALUES (%s, %s, 'bad', '{x')",
            (T0 + timedelta(minutes=minutes), source))

    page = client.get("/v1/dead-letters").json()

    assert [d["source"] for d in page["items"]] == ["mqtt", "api", "kafka"] and page["total"] == 3
    assert [d["source"] for d in client.get("/v1/dead-letters", params={"source": "api"}).json()["items"]] == ["api"]


def test_health_reports_database_and_idle_kafka(client: TestClient) -> None:
    health = client.get("/healthz")
    assert health.status_code == 200
    assert health.json()["database"] == {"ok": True, "status": "reachable", "detail": ""}
    assert health.json()["kafka"]["status"] == "idle"


def test_database_down_is_503_not_a_hang(api_settings: Settings) -> None:
    down = api_settings.model_copy(update={"database": DatabaseSettings(url="postgresql://gridwatch@127.0.0.1:9/x")})
    with TestClient(create_app(down, replace(FAST, db_timeout_s=1.0))) as c:
        listed, health = c.get("/v1/incidents"), c.get("/healthz")
    assert listed.status_code == 503 and "database is unavailable" in listed.json()["detail"]
    assert health.status_code == 503 and health.json()["database"]["ok"] is False


def test_console_is_served(client: TestClient) -> None:
    page = client.get("/console/")
    assert page.status_code == 200 and "事件 Incidents" in page.text
    assert client.get("/console/console.js").status_code == 200
    assert client.get("/", follow_redirects=False).headers["location"] == "/console/"
