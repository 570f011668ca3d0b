"""Decisions to contract Alerts (edge/alerts.py): stable ids, position, video time, attributes."""

from __future__ import annotations

import json
from datetime import datetime, timezone

import numpy as np

from detectors.types import AlertDecision
from edge.alerts import EPOCH, AlertIds, position, to_alert, video_time
from edge.config import CameraConfig
from gridwatch.contracts import Alert

CAMERA = CameraConfig.model_validate({
    "id": "cam-0012", "source": "x.avi", "lat": 37.86143, "lon": 112.55340,
    "zones": [
        {"id": "van-bay", "kind": "no_parking", "polygon": [[0, 0], [10, 0], [10, 10]], "lat": 37.8615, "lon": 112.5535},
        {"id": "walkway", "kind": "square", "polygon": [[0, 0], [10, 0], [10, 10]]},
    ],
})
START = datetime(2026, 9, 9, 6, 0, tzinfo=timezone.utc)


def parking(phase: str, t: float, episode: str = "illegal_parking/van-bay/1") -> AlertDecision:
    return AlertDecision(
        phase=phase, category="parking", type="illegal_parking", zone_id="van-bay", episode=episode, t=t,
        confidence=0.8, attributes={"dwell_s": t, "track_id": 7, "track_ids": [7], "zone": "van-bay"},
        boxes=np.array([[620.4, 60, 735, 125.6]], np.float32),
    )


def crowd(phase: str, t: float) -> AlertDecision:
    return AlertDecision(phase=phase, category="crowd", type="crowd_gathering", zone_id="walkway",
                         episode="crowd_gathering/walkway/1", t=t, confidence=0.6, attributes={"count": 5})


def ids_for(decisions: list[AlertDecision]) -> list[str]:
    ids = AlertIds(CAMERA.id)
    return [ids.next_id(d, video_time(START, d.t)) for d in decisions]


EPISODE = [parking("start", 30), parking("update", 90), parking("update", 150), parking("end", 170)]


def test_ids_are_stable_across_runs_and_unique_within_one() -> None:
    first, second = ids_for(EPISODE), ids_for(EPISODE)
    assert first == second
    assert len(set(first)) == len(first) and all(i.startswith("a-") for i in first)


def test_ids_differ_by_camera_zone_and_episode_start_time() -> None:
    base = ids_for(EPISODE[:1])[0]
    other_cam = AlertIds("cam-0013").next_id(EPISODE[0], video_time(START, 30))
    later_start = AlertIds(CAMERA.id).next_id(EPISODE[0], video_time(START, 3600))  # episode 1 after a restart
    other_episode = ids_for([parking("start", 30, "illegal_parking/van-bay/2")])[0]
    assert len({base, other_cam, later_start, other_episode}) == 4


def test_update_ids_follow_the_episode_start_not_their_own_time() -> None:
    ids = AlertIds(CAMERA.id)
    ids.next_id(EPISODE[0], video_time(START, 30))
    update = ids.next_id(EPISODE[1], video_time(START, 90))
    ids2 = AlertIds(CAMERA.id)
    ids2.next_id(EPISODE[0], video_time(START, 30))
    assert ids2.next_id(EPISODE[1], video_time(START, 91)) == update


def test_zone_position_else_camera_position() -> None:
    assert position(CAMERA, "van-bay") == (37.8615, 112.5535)
    assert position(CAMERA, "walkway") == (37.86143, 112.55340)  # zone without lat/lon
    assert position(CAMERA, None) == (37.86143, 112.55340)  # fire: whole frame


def test_alert_matches_the_contract() -> None:
    d = parking("start", 30.25)
    alert = to_alert(d, CAMERA, "yz-jinsong-01", video_time(EPOCH, d.t), "a-1", snapshot="cam-0012/a-1.jpg")
    raw = json.loads(alert.to_json())
    assert Alert.model_validate(raw) == alert
    assert raw["observed_at"] == "1970-01-01T00:00:30.250Z"
    assert (raw["category"], raw["type"], raw["device_id"], raw["site_id"]) == (
        "parking", "illegal_parking", "cam-0012", "yz-jinsong-01")
    assert (raw["lat"], raw["lon"], raw["confidence"]) == (37.8615, 112.5535, 0.8)
    a = raw["attributes"]
    assert a["phase"] == "start" and a["zone"] == "van-bay" and a["dwell_s"] == 30.25
    assert a["track_id"] == "cam-0012:7" and a["snapshot"] == "cam-0012/a-1.jpg"
    assert a["boxes"] == [[620, 60, 735, 126]] and a["video_t_s"] == 30.25


def test_crowd_alert_without_track_or_snapshot() -> None:
    alert = to_alert(crowd("update", 40), CAMERA, "s", video_time(START, 40), "a-2")
    assert alert.attributes["count"] == 5 and alert.attributes["phase"] == "update"
    assert alert.attributes["track_id"] is None and "snapshot" not in alert.attributes
    assert alert.observed_at == datetime(2026, 9, 9, 6, 0, 40, tzinfo=timezone.utc)
