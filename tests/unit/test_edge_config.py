"""The edge's additions to the site file: per-device offline thresholds and spool bounds."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from pydantic import ValidationError

from edge.config import CameraConfig, SiteConfig, offline_after

BUTTON = {"id": "btn-1", "topic": "z/btn-1", "payload": "zigbee2mqtt", "lat": 37.86, "lon": 112.55}
CAMERA = {"id": "cam-1", "source": "rtsp://cam", "lat": 37.86, "lon": 112.55}


def site(**extra: Any) -> SiteConfig:
    return SiteConfig.model_validate({"site_id": "s", "lat": 37.86, "lon": 112.55, **extra})


def test_devices_default_to_the_site_threshold_and_may_override_it() -> None:
    config = site(buttons=[{**BUTTON, "offline_after_s": 90000}], cameras=[CAMERA])
    assert offline_after(config, config.buttons[0]) == 90000
    assert offline_after(config, config.cameras[0]) == config.heartbeat.offline_after_s == 120


def test_device_threshold_shorter_than_the_heartbeat_interval_is_refused() -> None:
    with pytest.raises(ValidationError, match=r"offline_after_s must be longer than heartbeat.interval_s \(30 s\).*cam-1"):
        site(cameras=[{**CAMERA, "offline_after_s": 10}])


def test_spool_bounds_have_defaults_and_reject_typos() -> None:
    assert site().spool.max_records == 1_000_000
    with pytest.raises(ValidationError, match="max_record"):
        site(spool={"max_record": 10})


@pytest.mark.parametrize(("polygon", "says"), [
    ([[0, 0], [50, 50], [100, 100]], "enclose no area"),
    ([[0, 0], [0, 0], [0, 0]], "enclose no area"),
    ([[0, 0], [100, 100], [100, 0], [0, 100]], "edges cross"),  # a bow-tie
    ([[0, 0], [float("nan"), 0], [100, 100]], "finite number"),
    ([[-5, 0], [100, 0], [100, 100]], "no coordinate can be negative"),
])
def test_a_zone_polygon_that_cannot_hold_a_place_is_refused_naming_the_zone(polygon: list, says: str) -> None:
    camera = {"id": "cam-1", "source": "rtsp://cam", "lat": 37.86, "lon": 112.55,
              "zones": [{"id": "np", "kind": "no_parking", "polygon": polygon}]}
    with pytest.raises(ValidationError) as caught:
        CameraConfig.model_validate(camera)
    (error,) = caught.value.errors()
    assert error["loc"] == ("zones", 0, "polygon") and says in error["msg"]


def test_a_cameras_time_zone_puts_frames_on_the_clock_of_its_time_of_day_limits() -> None:
    at = datetime(2026, 1, 1, 14, 0, tzinfo=timezone.utc)
    shanghai = CameraConfig.model_validate({**CAMERA, "timezone": "Asia/Shanghai"})
    assert shanghai.local_time(at).strftime("%H:%M %Z") == "22:00 CST"  # inside a 22:00-06:00 night window
    assert CameraConfig.model_validate(CAMERA).local_time(at) == at.astimezone()  # the machine's own zone


def test_an_unknown_time_zone_is_refused_with_the_fix() -> None:
    with pytest.raises(ValidationError, match="unknown time zone 'China/Beijing'; use an IANA name such as Asia/Shanghai"):
        CameraConfig.model_validate({**CAMERA, "timezone": "China/Beijing"})


def test_detect_stamps_file_frames_on_the_cameras_clock(tmp_path) -> None:  # type: ignore[no-untyped-def]
    import cv2
    import numpy as np

    from edge.detect import DetectSummary, file_frames

    video = tmp_path / "v.avi"
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"MJPG"), 2, (32, 24))
    for _ in range(4):
        writer.write(np.zeros((24, 32, 3), np.uint8))
    writer.release()
    camera = CameraConfig.model_validate({**CAMERA, "timezone": "Asia/Shanghai"})
    start = datetime(2026, 1, 1, 14, 0, tzinfo=timezone.utc)
    frames = list(file_frames(cv2.VideoCapture(str(video)), 1.0, start, DetectSummary(), camera.local_time))
    assert [(f.wall.strftime("%H:%M:%S"), at) for f, at in frames] == [
        ("22:00:00", start), ("22:00:01", start + timedelta(seconds=1))]
