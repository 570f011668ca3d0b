"""The edge's additions to the site file: per-device offline thresholds and spool bounds."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from edge.config import SiteConfig, offline_after

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
