"""Detector settings in the site file (edge.config additions), from minimal dicts."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from detectors.backends import NanoDetConfig, UltralyticsConfig
from detectors.pipeline import zone_rules_from_config
from edge.config import CameraConfig
from gridwatch.configfile import load_yaml_model

SQUARE = [[0, 0], [100, 0], [100, 100], [0, 100]]


def camera(**extra: Any) -> CameraConfig:
    return CameraConfig.model_validate({"id": "cam-1", "source": "rtsp://cam", "lat": 37.86, "lon": 112.55, **extra})


def test_a_camera_without_detectors_runs_none() -> None:
    assert camera().detectors is None


def test_detector_settings_parse_with_backends_rules_and_time_windows() -> None:
    cam = camera(
        detectors={"backend": {"type": "onnx_nanodet", "tiles": 2}, "fire": {"interval_s": 2},
                   "calibration": {"image_points": [[0, 400], [600, 400], [500, 100], [100, 100]],
                                   "ground_points_m": [[0, 0], [12, 0], [12, 30], [0, 30]]}},
        zones=[
            {"id": "lane", "kind": "fire_lane", "polygon": SQUARE,
             "parking": {"limit_s": 120, "schedule": [{"start": "22:00", "end": "06:00", "limit_s": 30}]}},
            {"id": "sq", "kind": "square", "polygon": SQUARE, "crowd": {"min_people": 8, "cluster_distance_m": 1.5}},
        ],
    )
    assert isinstance(cam.detectors.backend, NanoDetConfig) and cam.detectors.backend.tiles == 2
    assert isinstance(cam.detectors.fire.backend, UltralyticsConfig) and cam.detectors.fire.interval_s == 2
    lane, sq = cam.zones
    assert lane.parking.schedule[0].limit_s == 30 and str(lane.parking.schedule[0].start) == "22:00:00"
    assert sq.crowd.min_people == 8


def test_no_parking_kinds_get_default_parking_rules() -> None:
    cam = camera(zones=[{"id": "np", "kind": "no_parking", "polygon": SQUARE},
                        {"id": "sq", "kind": "square", "polygon": SQUARE}])
    rules = zone_rules_from_config(cam.zones)
    assert rules[0].parking is not None and rules[0].parking.limit_s == 300
    assert rules[1].parking is None and rules[1].crowd is None


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ({"zones": [{"id": "sq", "kind": "square", "polygon": SQUARE, "crowd": {"cluster_distance_m": 1.5}}]},
         "needs detectors.calibration"),
        ({"zones": [{"id": "a", "kind": "square", "polygon": SQUARE}] * 2}, "zone ids must be unique"),
        ({"zones": [{"id": "a", "kind": "square", "polygon": SQUARE, "crowd": {"min_people": None}}]},
         "set min_people, cluster_distance_m"),
        ({"zones": [{"id": "a", "kind": "square", "polygon": SQUARE, "crowd": {"min_peeple": 3}}]}, "min_peeple"),
        ({"detectors": {"backend": {"type": "yolo9000"}}}, "does not match any of the expected tags"),
        ({"detectors": {"crowd_confirm": {"k": 6, "n": 5}}}, "cannot exceed n"),
    ],
)
def test_bad_detector_settings_fail_at_load(extra: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        camera(**extra)


SAMPLE_CAMERAS = sorted((Path(__file__).resolve().parents[2] / "configs" / "cameras").glob("*.yaml"))


@pytest.mark.parametrize("path", SAMPLE_CAMERAS, ids=lambda p: p.name)
def test_every_sample_camera_file_loads(path: Path) -> None:
    # installers copy these: each must pass the same validation a site file's camera does
    camera = load_yaml_model(path, CameraConfig)
    assert camera.id and (camera.detectors is not None or camera.zones)


def test_the_sample_cameras_are_found() -> None:
    assert {"vtest-sample.yaml", "waiting-room-site-trained-sample.yaml"} <= {p.name for p in SAMPLE_CAMERAS}
