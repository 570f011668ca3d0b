"""Crowd and parking on real footage: ../shared/media/video/vtest.avi (campus walkway, 768x576, 10 fps).

The scene: 3-9 people walk across the walkway at any time; a white van and a car stand parked top
right for the whole 79.5 s. Frames are taken at 2 fps and detected once per module with a camera's
default COCO model (``CameraDetectorsConfig().backend``); each test then runs its rules over those
tracked detections. Skips (with
the reason) when the footage or the model is not beside the repo.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from detectors.backends import build_backend
from detectors.config import CameraDetectorsConfig, MotionGateConfig
from detectors.confirm import ConfirmConfig
from detectors.crowd import CrowdRule, CrowdZoneConfig
from detectors.labels import PERSON, VEHICLES
from detectors.models import ModelError
from detectors.parking import ParkingRule, ParkingZoneConfig
from detectors.pipeline import CameraDetectors
from detectors.tracking import Tracker
from detectors.types import Detections, TimedFrame
from detectors.zones import Zone

MEDIA = Path(__file__).resolve().parents[3] / "shared" / "media"
VTEST = MEDIA / "video" / "vtest.avi"
STEP = 5  # every 5th frame of 10 fps: 2 fps

WALKWAY = Zone("walkway", np.array([[0, 170], [768, 170], [768, 480], [0, 330]], np.float32), "square")
VAN_BAY = Zone("van-bay", np.array([[620, 60], [735, 60], [735, 125], [620, 125]], np.float32), "no_parking")
# A fire lane across the walkway: only pedestrians pass through it.
CROSSING = Zone("crossing", np.array([[300, 150], [700, 150], [700, 330], [300, 330]], np.float32), "fire_lane")


def read_frames(path: Path, step: int) -> list[TimedFrame]:
    cap = cv2.VideoCapture(str(path))
    fps = cap.get(cv2.CAP_PROP_FPS) or 10.0
    frames, i = [], 0
    while True:
        ok, image = cap.read()
        if not ok:
            break
        if i % step == 0:
            frames.append(TimedFrame(image, i / fps))
        i += 1
    cap.release()
    return frames


@pytest.fixture(scope="module")
def frames() -> list[TimedFrame]:
    if not VTEST.is_file():
        pytest.skip(f"{VTEST} not found (tests read ../shared/media in place)")
    return read_frames(VTEST, STEP)


@pytest.fixture(scope="module")
def tracked(frames: list[TimedFrame]) -> list[tuple[float, Detections]]:
    try:
        backend = build_backend(CameraDetectorsConfig().backend)
    except ModelError as exc:
        pytest.skip(str(exc))
    tracker = Tracker(frame_rate=10.0 / STEP)
    return [(f.t, tracker.update(backend.detect(f.image).of_classes(PERSON | VEHICLES), f.t)) for f in frames]


def crowd_decisions(tracked: list[tuple[float, Detections]], min_people: int) -> list:
    rule = CrowdRule([(WALKWAY, CrowdZoneConfig(min_people=min_people, min_duration_s=5))],
                     ConfirmConfig(k=3, n=5, update_interval_s=30, clear_s=10, cooldown_s=60))
    return [d for t, dets in tracked for d in rule.update(dets, t)]


def test_footage_is_what_the_tests_assume(frames: list[TimedFrame], tracked: list) -> None:
    assert len(frames) == 159 and frames[-1].t == pytest.approx(79.0)
    people = [int(WALKWAY.contains(d.of_classes(PERSON).above(0.35)).sum()) for _, d in tracked]
    assert 3 <= int(np.median(people)) <= 9 and max(people) <= 11


def test_crowd_alert_when_threshold_below_the_people_visible(tracked: list) -> None:
    decisions = crowd_decisions(tracked, min_people=3)
    starts = [d for d in decisions if d.phase == "start"]
    assert len(starts) == 1  # one gathering for the whole clip, repeated by updates, not restarted
    s = starts[0]
    assert s.category == "crowd" and s.zone_id == "walkway" and s.attributes["count"] >= 3
    assert 5.0 <= s.attributes["duration_s"] and s.t <= 15.0 and s.boxes.shape[0] == s.attributes["count"]
    assert any(d.phase == "update" for d in decisions)


def test_no_crowd_alert_when_threshold_above_the_people_visible(tracked: list) -> None:
    assert crowd_decisions(tracked, min_people=12) == []


def test_people_and_vehicles_carry_track_ids(tracked: list) -> None:
    late = [d for t, d in tracked if t >= 5.0]
    assert all((d.tracker_id >= 0).any() for d in late)
    ids = {int(i) for _, d in tracked for i in d.tracker_id if i >= 0}
    assert len(ids) >= 10  # many walkers over 79 s, each its own track


def test_one_parking_alert_for_the_parked_van_and_none_for_walkers(tracked: list) -> None:
    rule = ParkingRule([(VAN_BAY, ParkingZoneConfig(limit_s=30)), (CROSSING, ParkingZoneConfig(limit_s=10))],
                       update_interval_s=60)
    decisions = [d for t, dets in tracked for d in rule.update(dets, t)]
    starts = [d for d in decisions if d.phase == "start"]
    assert len(starts) == 1, [(d.zone_id, d.t, d.attributes) for d in decisions]
    van = starts[0]
    assert van.zone_id == "van-bay" and van.t == pytest.approx(30.0, abs=1.0)
    assert van.attributes["dwell_s"] >= 30 and van.attributes["track_id"] is not None
    assert not any(d.zone_id == "crossing" for d in decisions)
    assert not any(d.phase == "end" for d in decisions)  # the van never leaves


def test_no_parking_alert_before_the_limit(tracked: list) -> None:
    rule = ParkingRule([(VAN_BAY, ParkingZoneConfig(limit_s=90))])  # longer than the clip
    assert [d for t, dets in tracked for d in rule.update(dets, t)] == []


def test_motion_gating_skips_a_still_scene(frames: list[TimedFrame]) -> None:
    try:
        cam = CameraDetectors.build(CameraDetectorsConfig(motion=MotionGateConfig(max_skip_s=5)), [])
    except ModelError as exc:
        pytest.skip(str(exc))
    still = frames[0].image
    results = [cam.process(TimedFrame(still, i * 0.5)) for i in range(20)]  # 10 s of one frame
    assert [r.detected for r in results].count(True) == 2  # first frame, then the 5 s refresh
    assert cam.stats.skipped == 18 and all(len(r.detections) == len(results[0].detections) for r in results)
    moving = [cam.process(TimedFrame(f.image, 10 + i * 0.5)) for i, f in enumerate(frames[1:6])]
    assert all(r.detected for r in moving)  # people walking: every frame detected
