"""What the model is shown (tile grids, letterbox) and how people are counted from its boxes."""

from __future__ import annotations

import numpy as np
import pytest
from pydantic import ValidationError

from detectors.backends.base import Backend, BackendConfigBase, grid_tiles
from detectors.crowd import CrowdRule, CrowdZoneConfig, drop_nested
from detectors.labels import COCO80
from detectors.types import Detections
from detectors.zones import Zone

PERSON = COCO80.index("person")


def people(boxes: list[tuple[float, float, float, float]], conf: list[float] | None = None) -> Detections:
    conf = conf or [0.9] * len(boxes)
    return Detections.from_arrays(np.array(boxes, np.float32).reshape(-1, 4), conf, [PERSON] * len(boxes), COCO80)


class WhiteBlob(Backend):
    """Stands in for a model: one person box around the white pixels of the view it is shown, and
    remembers each view's shape (to check what the model saw)."""

    type_key = "fake"
    labels = COCO80

    def __init__(self, config: BackendConfigBase) -> None:
        super().__init__(config)
        self.views: list[tuple[int, int]] = []

    def _infer(self, frame_bgr: np.ndarray) -> Detections:
        self.views.append(frame_bgr.shape[:2])
        ys, xs = np.nonzero(frame_bgr[..., 0] > 200)
        if len(xs) == 0:
            return Detections.empty(COCO80)
        return people([(xs.min(), ys.min(), xs.max() + 1, ys.max() + 1)])


def frame_with_blob() -> np.ndarray:
    frame = np.zeros((1080, 1920, 3), np.uint8)
    frame[600:900, 1500:1600] = 255  # a standing person in the right half
    return frame


def test_grid_tiles_cover_the_frame_and_overlap() -> None:
    tiles = grid_tiles(1920, 1080, (2, 1), 0.15)
    assert tiles == [(0, 0, 1104, 1080), (816, 0, 1104, 1080)]
    covered = np.zeros((400, 600), np.int32)
    for x0, y0, w, h in grid_tiles(600, 400, (3, 2), 0.15):
        covered[y0 : y0 + h, x0 : x0 + w] += 1
    assert covered.min() == 1 and covered.max() == 4  # every pixel seen, seams seen twice (corners 4x)


@pytest.mark.parametrize("whole", [True, False])
def test_tile_grid_maps_boxes_to_frame_pixels_and_merges_the_seam(whole: bool) -> None:
    backend = WhiteBlob(BackendConfigBase(model="x", tile_grid=(2, 1), tile_whole_frame=whole))
    dets = backend.detect(frame_with_blob())
    assert dets.xyxy.tolist() == [[1500, 600, 1600, 900]]  # seen by the right tile (and the frame), one box
    assert len(backend.views) == (3 if whole else 2)
    assert backend.views[-2:] == [(1080, 1104), (1080, 1104)]  # about square: people keep their shape


def test_letterbox_shows_the_model_a_square_and_keeps_box_coordinates() -> None:
    backend = WhiteBlob(BackendConfigBase(model="x", letterbox=True))
    dets = backend.detect(frame_with_blob())
    assert backend.views == [(1920, 1920)]
    assert dets.xyxy.tolist() == [[1500, 600, 1600, 900]]


class LeftHanded(WhiteBlob):
    """Finds the white blob only in the left half of the view it is shown: a model that sees a
    person one way round but not the other."""

    def _infer(self, frame_bgr: np.ndarray) -> Detections:
        found = super()._infer(frame_bgr)
        return found[found.xyxy[:, 2] <= frame_bgr.shape[1] / 2]


@pytest.mark.parametrize("view", [{}, {"letterbox": True}, {"tile_grid": (2, 1), "letterbox": True}, {"tiles": 2}])
def test_also_mirrored_finds_what_only_the_mirrored_view_shows_in_frame_pixels(view: dict) -> None:
    frame = np.zeros((1080, 1920, 3), np.uint8)
    frame[700:900, 1500:1600] = 255  # right half (this model misses it there), inside one 2x2 tile
    assert len(LeftHanded(BackendConfigBase(model="x", **view)).detect(frame)) == 0
    backend = LeftHanded(BackendConfigBase(model="x", also_mirrored=True, **view))
    assert backend.detect(frame).xyxy.tolist() == [[1500, 700, 1600, 900]]
    plain = WhiteBlob(BackendConfigBase(model="x", **view))
    plain.detect(frame)
    assert len(backend.views) == 2 * len(plain.views)  # each view twice: the cost doubles


def test_a_person_found_both_ways_round_is_one_box() -> None:
    backend = WhiteBlob(BackendConfigBase(model="x", also_mirrored=True, letterbox=True))
    assert backend.detect(frame_with_blob()).xyxy.tolist() == [[1500, 600, 1600, 900]]


def test_ultralytics_cannot_track_a_frame_it_is_shown_twice() -> None:
    from detectors.backends.ultralytics_yolo import UltralyticsConfig

    with pytest.raises(ValidationError, match="own_tracker: false"):
        UltralyticsConfig(model="x.pt", also_mirrored=True, own_tracker=True)
    with pytest.raises(ValidationError, match="keep one"):
        UltralyticsConfig(model="x.pt", also_mirrored=True, mirror=True)
    for tiling in ({"tiles": 2}, {"tile_grid": (2, 1)}):  # one inference per tile: each a "frame" to it
        with pytest.raises(ValidationError, match="tiles run the model once per tile"):
            UltralyticsConfig(model="x.pt", own_tracker=True, **tiling)


def test_tiles_cannot_be_combined_with_a_grid_or_letterbox() -> None:
    with pytest.raises(ValidationError, match=r"use tile_grid: \[2, 2\]"):
        BackendConfigBase(model="x", tiles=2, letterbox=True)
    with pytest.raises(ValidationError, match="each 1-4"):
        BackendConfigBase(model="x", tile_grid=(5, 1))


def test_drop_nested_keeps_the_higher_score_of_one_person_seen_twice() -> None:
    body, torso, neighbour = (100, 100, 200, 400), (110, 110, 190, 250), (180, 100, 280, 400)
    kept = drop_nested(people([torso, body, neighbour], [0.9, 0.6, 0.5]), 0.8)
    assert kept.xyxy.tolist() == [list(map(float, torso)), list(map(float, neighbour))]
    assert len(drop_nested(people([torso, body, neighbour]), None)) == 3
    assert len(drop_nested(people([]), 0.8)) == 0


def test_crowd_rule_counts_a_person_seen_twice_once() -> None:
    zone = Zone("room", np.array([[0, 0], [1000, 0], [1000, 1000], [0, 1000]], np.float32), "square")
    seen_twice = people([(100, 100, 200, 400), (105, 100, 200, 395), (300, 100, 400, 400)], [0.5, 0.4, 0.6])
    rule = CrowdRule([(zone, CrowdZoneConfig(min_people=3, min_confidence=0.3))])
    assert rule.read(zone, rule.zones[0][1], seen_twice).count == 2
    loose = CrowdZoneConfig(min_people=3, min_confidence=0.3, duplicate_overlap=None)
    assert rule.read(zone, loose, seen_twice).count == 3


def test_the_waiting_room_sample_camera_loads_with_its_tiled_view() -> None:
    from pathlib import Path

    import yaml

    from edge.config import CameraConfig

    path = Path(__file__).resolve().parents[2] / "configs" / "cameras" / "waiting-room-sample.yaml"
    cam = CameraConfig.model_validate(yaml.safe_load(path.read_text()))
    backend, crowd = cam.detectors.backend, cam.zones[0].crowd
    assert backend.tile_grid == (2, 1) and backend.letterbox and backend.tile_whole_frame and backend.also_mirrored
    assert crowd.min_confidence == 0.18 and crowd.duplicate_overlap == 0.6
