"""The camera pipeline end to end on real Kafka and PostgreSQL: an edge agent with a vtest.avi
camera raises a parking alert with its snapshot; the ingest stores the alert, the snapshot consumer
the picture, and the API serves it. An unreachable rtsp:// camera raises ``camera_offline``.

Kept short: a 12 s cut of the video, detection at 2 frames a second, a 3 s parking limit.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest
from fastapi.testclient import TestClient
from psycopg.types.json import Jsonb

from api.app import create_app
from gridwatch.contracts import Alert
from gridwatch.servers.ports import free_port
from gridwatch.settings import Settings
from gridwatch.snapshot import Snapshot

from ..unit.conftest import SAMPLE_GRIDS
from .helpers import query, read_topic, wait_until
from .pipeline import running_agent, running_ingest, running_snapshot_consumer, write_site
from .test_api_support import FAST, insert_incident, sql

VTEST = Path(__file__).resolve().parents[3] / "shared" / "media" / "video" / "vtest.avi"
VAN_BAY = {"id": "van-bay", "kind": "no_parking", "polygon": [[620, 60], [735, 60], [735, 125], [620, 125]],
           "lat": 37.86151, "lon": 112.55352, "parking": {"limit_s": 3}}


def cut_video(target: Path, seconds: float) -> None:
    """The first ``seconds`` of vtest.avi (10 fps), re-encoded as MJPG."""
    if not VTEST.is_file():
        pytest.skip(f"{VTEST} not found (tests read ../shared/media in place)")
    capture = cv2.VideoCapture(str(VTEST))
    writer = cv2.VideoWriter(str(target), cv2.VideoWriter_fourcc(*"MJPG"), 10, (768, 576))
    for _ in range(int(seconds * 10)):
        ok, image = capture.read()
        assert ok
        writer.write(image)
    writer.release()
    capture.release()


def alerts_of(settings: Settings, type_: str) -> list[Alert]:
    alerts = [Alert.model_validate_json(r.value) for r in read_topic(settings, settings.kafka.topics.alerts)]
    return [a for a in alerts if a.type == type_]


def snapshots_of(settings: Settings, alert_id: str) -> list[Any]:
    return [r for r in read_topic(settings, settings.kafka.topics.snapshots) if r.key == alert_id.encode()]


def test_vtest_camera_alert_and_snapshot_reach_the_api(settings_factory, tmp_path: Path) -> None:
    cut_video(tmp_path / "gate.avi", 12)
    settings: Settings = settings_factory()
    camera = {"id": "cam-vtest", "source": "gate.avi", "lat": 37.86143, "lon": 112.55340, "zones": [VAN_BAY],
              "detectors": {"frame_rate": 2}}  # the default COCO model
    site, path = write_site(tmp_path, buttons=[], cameras=[camera])
    with running_ingest(settings, SAMPLE_GRIDS), running_snapshot_consumer(settings) as consumer:
        with running_agent(settings, site, path) as agent:
            [alert, *_] = wait_until(lambda: alerts_of(settings, "illegal_parking"), timeout_s=120,
                                     what="the parked van's alert on the alerts topic")
            # The picture may still be on its way to Kafka when the alert is there (a loaded machine
            # delivers the larger record later); an agent stopped now would keep it in its spool.
            [snapshot] = wait_until(lambda: snapshots_of(settings, alert.id), timeout_s=90,
                                    what="the alert's snapshot on the snapshots topic")
            health = agent.health()
        # Both consumer groups formed just now, on a machine that may be loaded: wait like the other
        # consumer-group tests do.
        stored = wait_until(lambda: query(settings.database.url,
                                          "SELECT camera_id, site_id, taken_at, jpeg FROM snapshots WHERE alert_id = %s",
                                          (alert.id,)), timeout_s=90, what="the snapshot in PostgreSQL")
        wait_until(lambda: query(settings.database.url, "SELECT 1 FROM alerts WHERE id = %s", (alert.id,)),
                   timeout_s=90, what="the alert stored by the ingest")
        stored_total = consumer.metrics.stored._value.get()

    assert (alert.category, alert.device_id, alert.attributes["zone"], alert.attributes["phase"]) == (
        "parking", "cam-vtest", "van-bay", "start")
    assert alert.attributes["snapshot"] == f"cam-vtest/{alert.id}.jpg"
    [(camera_id, site_id, taken_at, jpeg)] = stored
    assert (camera_id, site_id, taken_at) == ("cam-vtest", site.site_id, alert.observed_at)
    assert stored_total >= 1
    assert len(snapshots_of(settings, alert.id)) == 1 and Snapshot.from_message(snapshot.key, snapshot.value, snapshot.headers)

    cam = health["cameras"]["cam-vtest"]
    assert health["ok"] and cam["state"] == "ok" and cam["detectors"] and cam["processed"] >= 1
    assert cam["dropped"] >= 1, "a 10 fps file sampled at 2 fps drops frames, and says so"

    with TestClient(create_app(settings, FAST)) as client:
        response = client.get(f"/v1/alerts/{alert.id}/snapshot")
        listed = client.get("/v1/alerts", params={"device_id": "cam-vtest"}).json()["items"]
    assert response.status_code == 200 and response.headers["content-type"] == "image/jpeg"
    assert response.content == bytes(jpeg)
    picture = cv2.imdecode(np.frombuffer(response.content, np.uint8), cv2.IMREAD_COLOR)
    assert picture.shape == (576, 768, 3)
    assert {a["id"]: a["snapshot_url"] for a in listed}[alert.id] == f"/v1/alerts/{alert.id}/snapshot"


def test_unreachable_rtsp_camera_raises_camera_offline_once(settings_factory, tmp_path: Path) -> None:
    settings: Settings = settings_factory()
    camera = {"id": "cam-rtsp", "source": f"rtsp://127.0.0.1:{free_port()}/stream1", "lat": 37.8615, "lon": 112.5535}
    site, path = write_site(tmp_path, buttons=[], cameras=[camera], heartbeat={"interval_s": 0.5, "offline_after_s": 1.5})
    with running_agent(settings, site, path) as agent:
        [offline] = wait_until(lambda: alerts_of(settings, "camera_offline"), what="a camera_offline alert")
        agent.tick()
        health = agent.health()
    alerts = [Alert.model_validate_json(r.value) for r in read_topic(settings, settings.kafka.topics.alerts)]
    assert [(a.device_id, a.category, a.type, a.attributes["phase"]) for a in alerts] == [
        ("cam-rtsp", "device", "camera_offline", "start")]
    assert offline.attributes["last_frame"] is None and offline.attributes["duration_s"] >= 1.5
    assert "does not open" in offline.attributes["reason"]
    assert (offline.lat, offline.lon) == (37.8615, 112.5535)
    assert health["cameras"]["cam-rtsp"]["state"] == "offline" and health["devices_online"]["cam-rtsp"] is False


def test_snapshot_api_explains_a_missing_picture_and_the_incident_links_its_pictures(settings_factory) -> None:
    settings: Settings = settings_factory()
    url = settings.database.url
    jpeg = cv2.imencode(".jpg", np.zeros((48, 64, 3), np.uint8))[1].tobytes()
    for alert_id, attributes in (("a-with", {"snapshot": "cam-1/a-with.jpg"}), ("a-late", {"snapshot": "cam-1/a-late.jpg"}),
                                 ("a-none", {})):
        sql(url, "INSERT INTO alerts (id, observed_at, category, type, device_id, site_id, lat, lon, confidence, "
                 "grid_path, payload) VALUES (%s, now(), 'parking', 'illegal_parking', 'cam-1', 'site-1', 37.86, "
                 "112.55, 0.9, '{}', %s)", (alert_id, Jsonb({"kind": "alert", "id": alert_id, "attributes": attributes})))
    sql(url, "INSERT INTO snapshots (alert_id, camera_id, site_id, taken_at, jpeg) VALUES ('a-with', 'cam-1', 'site-1', "
             "'2026-09-09T06:00:00Z', %s)", (jpeg,))
    insert_incident(url, "i-1", category="parking", members=[{"id": "a-with", "kind": "alert", "rule": "seed"},
                                                              {"id": "a-late", "kind": "alert", "rule": "near"}])
    with TestClient(create_app(settings, FAST)) as client:
        ok = client.get("/v1/alerts/a-with/snapshot")
        late, none, unknown = (client.get(f"/v1/alerts/{i}/snapshot") for i in ("a-late", "a-none", "a-unknown"))
        incident = client.get("/v1/incidents/i-1").json()
        listed = {a["id"]: a["snapshot_url"] for a in client.get("/v1/alerts").json()["items"]}
    assert ok.status_code == 200 and ok.content == jpeg and ok.headers["x-camera-id"] == "cam-1"
    assert [r.status_code for r in (late, none, unknown)] == [404, 404, 404]
    assert "has not reached the server yet" in late.json()["detail"]
    assert "sent without one" in none.json()["detail"]
    assert "no such alert" in unknown.json()["detail"]
    assert incident["snapshots"] == [{"alert_id": "a-with", "camera_id": "cam-1", "taken_at": "2026-09-09T06:00:00.000Z",
                                      "url": "/v1/alerts/a-with/snapshot"}]
    assert listed == {"a-with": "/v1/alerts/a-with/snapshot", "a-late": "/v1/alerts/a-late/snapshot", "a-none": None}
