"""Snapshots (edge/snapshots.py) on a synthetic frame: written, decodable, drawn where expected."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from detectors.types import Detections
from detectors.zones import Zone
from edge.snapshots import (
    ALERT_COLOUR, annotate, capped_jpeg, safe_name, snapshot_jpeg, snapshot_key, write_snapshot, zone_colour,
)

H, W = 240, 320
BAY = Zone("van-bay", np.array([[200, 40], [300, 40], [300, 120], [200, 120]], np.float32), "no_parking")
DETS = Detections.from_arrays([[20, 150, 60, 230], [210, 50, 290, 110]], [0.9, 0.8], [0, 2],
                              ("person", "bicycle", "car"), tracker_id=[3, 7])


def near(pixel: np.ndarray, colour: tuple[int, int, int], tol: int = 40) -> bool:
    return bool(np.all(np.abs(pixel.astype(int) - np.array(colour)) <= tol))


def test_snapshot_is_a_jpeg_of_the_frame_size_with_zone_and_alert_drawn(tmp_path: Path) -> None:
    frame = np.zeros((H, W, 3), np.uint8)
    rel = write_snapshot(tmp_path, "cam-0012", "a-123", frame, DETS, [BAY], DETS.xyxy[1:], "parking start")
    assert rel == "cam-0012/a-123.jpg"
    image = cv2.imread(str(tmp_path / rel))
    assert image is not None and image.shape == (H, W, 3)
    assert near(image[80, 300], zone_colour("no_parking"))  # right edge of the bay outline
    assert near(image[80, 210], ALERT_COLOUR)  # the van's alert box (left edge at x=210)
    assert near(image[20, 20], (0, 0, 0))  # untouched background
    assert not frame.any()  # the caller's frame is not drawn on


def test_annotate_labels_boxes_with_track_ids() -> None:
    frame = np.zeros((H, W, 3), np.uint8)
    out = annotate(frame, DETS, [], lines=["crowd_gathering walkway: 5 people"])
    assert out[150:230, 20].any() and out[H - 30:H, 4:200].any()  # person box edge and alert text
    without_tracks = annotate(frame, Detections.from_arrays(DETS.xyxy, DETS.confidence, DETS.class_id, DETS.class_names), [])
    assert not np.array_equal(out[130:150, 20:120], without_tracks[130:150, 20:120])  # "person #3" vs "person"


def test_ids_cannot_escape_the_snapshot_folder() -> None:
    assert safe_name("../../etc/passwd") == "_.._etc_passwd"
    assert "/" not in safe_name("cam/1") and safe_name("..") == "_"


def test_capped_jpeg_fits_the_bound_by_quality_then_size() -> None:
    noise = np.random.default_rng(1).integers(0, 255, (576, 768, 3), dtype=np.uint8)  # compresses badly
    uncapped = capped_jpeg(noise, 10_000_000)
    assert len(uncapped) > 200_000
    small = capped_jpeg(noise, 60_000)
    assert len(small) <= 60_000
    image = cv2.imdecode(np.frombuffer(small, np.uint8), cv2.IMREAD_COLOR)
    assert image is not None and image.shape[1] < 768, "quality alone cannot fit noise: it was scaled down"
    plain = np.zeros((576, 768, 3), np.uint8)
    assert cv2.imdecode(np.frombuffer(capped_jpeg(plain, 60_000), np.uint8), cv2.IMREAD_COLOR).shape == (576, 768, 3)


def test_snapshot_jpeg_is_the_annotated_picture() -> None:
    frame = np.zeros((H, W, 3), np.uint8)
    jpeg = snapshot_jpeg(frame, DETS, [BAY], DETS.xyxy[1:], "parking start", 900_000)
    image = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR)
    assert image.shape == (H, W, 3) and near(image[80, 300], zone_colour("no_parking"))
    assert snapshot_key("cam 1", "a-9") == "cam_1/a-9.jpg"
