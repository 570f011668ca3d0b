"""The edge's additions to the site file: per-device offline thresholds and spool bounds."""

from __future__ import annotations

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
])
def test_a_zone_polygon_that_cannot_hold_a_place_is_refused_naming_the_zone(polygon: list, says: str) -> None:
    camera = {"id": "cam-1", "source": "rtsp://cam", "lat": 37.86, "lon": 112.55,
              "zones": [{"id": "np", "kind": "no_parking", "polygon": polygon}]}
    with pytest.raises(ValidationError) as caught:
        CameraConfig.model_validate(camera)
    (error,) = caught.value.errors()
    assert error["loc"] == ("zones", 0, "polygon") and says in error["msg"]
