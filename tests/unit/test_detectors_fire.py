"""Fire and smoke on real footage: nothing on vtest or on hard negatives, an alert on a real fire.

Needs torch/ultralytics (the yolo extra) and ../shared/models/fire/yolov8s_fire_smoke.pt; skips
with the reason when either is missing. The video checks also run the site-trained sample camera
(configs/cameras/fire-site-trained-sample.yaml) where bench/train_fire.py has written its weights.
The fire model costs ~0.5 s a frame here, so frames are sampled sparsely (vtest at 0.5 fps) and
each hard-negative still is inferred once.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import pytest

from bench.eval_detectors import FIRE_SITE_TRAINED, camera_fire_setup
from detectors.backends import UltralyticsConfig, build_backend
from detectors.backends.base import Backend
from detectors.backends.ultralytics_yolo import mirrored
from detectors.config import FireDetectorConfig
from detectors.fire import FireRule, FireVerifyConfig, flame_mask, flicker, verify_image
from detectors.models import ModelError
from detectors.types import Detections, TimedFrame

MEDIA = Path(__file__).resolve().parents[3] / "shared" / "media"


def frames_of(path: Path, every_s: float, until_s: float) -> list[TimedFrame]:
    cap = cv2.VideoCapture(str(path))
    fps = cap.get(cv2.CAP_PROP_FPS) or 10.0
    step, out, i = max(1, round(every_s * fps)), [], 0
    while i / fps <= until_s:
        ok, image = cap.read()
        if not ok:
            break
        if i % step == 0:
            out.append(TimedFrame(image, i / fps))
        i += 1
    return out


@pytest.fixture(scope="module")
def fire_model() -> Backend:
    try:
        return build_backend(UltralyticsConfig(model="yolov8s-fire-smoke", confidence=0.25))
    except ImportError as exc:
        pytest.skip(f"{exc} (torch is ~3 GB; CI installs it in .ci/run)")
    except ModelError as exc:
        pytest.skip(str(exc))


@dataclass(frozen=True)
class FireSetup:
    """A fire model and the verification and confirmation a camera runs it with."""

    model: Backend
    config: FireDetectorConfig

    def rule(self) -> FireRule:
        return FireRule(verify=self.config.verify, confirm=self.config.confirm)


@pytest.fixture(scope="module", params=["shared", "site-trained"])
def fire_setup(request: pytest.FixtureRequest, fire_model: Backend) -> FireSetup:
    """The shared model with the defaults; and, where bench/train_fire.py has written its weights
    (about 52 min of CPU, so not in CI), the site-trained sample camera's model and checks."""
    if request.param == "shared":
        return FireSetup(fire_model, FireDetectorConfig())
    fire = camera_fire_setup(FIRE_SITE_TRAINED)
    try:
        return FireSetup(build_backend(fire.backend), fire)
    except ModelError as exc:
        pytest.skip(f"{exc}: run bench/train_fire.py first")


def run_rule(setup: FireSetup, frames: list[TimedFrame]) -> list:
    rule = setup.rule()
    return [d for f in frames for d in rule.update(setup.model.detect(f.image), f)]


def test_manifest_labels_correct_the_checkpoints_swapped_names(fire_model: Backend) -> None:
    assert fire_model.labels == ("smoke", "fire")


def test_no_fire_on_vtest(fire_setup: FireSetup) -> None:
    path = MEDIA / "video" / "vtest.avi"
    if not path.is_file():
        pytest.skip(f"{path} not found")
    frames = frames_of(path, every_s=2.0, until_s=80.0)
    assert len(frames) == 40
    assert run_rule(fire_setup, frames) == []


def test_fire_alert_on_a_real_fire_video(fire_setup: FireSetup) -> None:
    path = MEDIA / "fire" / "furg_video" / "house6.mp4"
    if not path.is_file():
        pytest.skip(f"{path} not found")
    decisions = run_rule(fire_setup, frames_of(path, every_s=0.5, until_s=6.0))
    assert [d.phase for d in decisions] == ["start"]
    assert decisions[0].category == "fire" and decisions[0].attributes["area_ratio"] > 0
    assert decisions[0].t <= 5.0 and len(decisions[0].boxes) >= 1


def hard_negatives() -> list[Path]:
    labels = MEDIA / "nonfire" / "labels.csv"
    if not labels.is_file():
        return []
    with labels.open() as f:
        return [MEDIA / "nonfire" / row["file"] for row in csv.DictReader(f)]


def test_no_fire_alert_on_hard_negatives_seen_by_a_still_camera(fire_setup: FireSetup) -> None:
    """Each lamp, sunset or tail-light still as 4 s of video with sensor noise: no alert."""
    paths = hard_negatives()
    if not paths:
        pytest.skip("../shared/media/nonfire not found")
    rng = np.random.default_rng(0)
    raw_hits = 0
    for path in paths:
        image = cv2.imread(str(path))
        boxes = fire_setup.model.detect(image)
        raw_hits += len(verify_image(image, boxes, fire_setup.config.verify)) > 0
        rule = fire_setup.rule()
        for i in range(5):
            noisy = np.clip(image.astype(np.int16) + rng.normal(0, 2, image.shape).astype(np.int16), 0, 255).astype(np.uint8)
            assert rule.update(boxes, TimedFrame(noisy, float(i))) == [], path.name
    # The model and the checks on one still do fire on some of them (the shared model with the defaults
    # on 12, the site-trained one with its own checks on 5, measured here): what saves us is flicker.
    assert raw_hits >= (10 if fire_setup.config.verify == FireVerifyConfig() else 3)


@pytest.mark.parametrize(("shift", "expect_flicker"), [(0, False), (6, True)])
def test_flicker_measures_changing_flame_pixels(shift: int, expect_flicker: bool) -> None:
    frame = np.zeros((60, 60, 3), np.uint8)
    frame[20:40, 20:40] = (40, 160, 250)  # BGR orange: flame-coloured
    moved = np.roll(frame, shift, axis=0)
    assert flame_mask(frame).sum() == 400
    assert (flicker(frame, moved, np.array([10, 10, 50, 50], np.float32)) >= 0.04) is expect_flicker


def test_colour_check_rejects_a_grey_fire_box() -> None:
    grey = np.full((40, 40, 3), 128, np.uint8)
    d = Detections.from_arrays([[0, 0, 40, 40]], [0.9], [1], ("smoke", "fire"))
    assert len(verify_image(grey, d, FireVerifyConfig(min_cross_fire_pixels=1.01))) == 0
    orange = np.zeros((40, 40, 3), np.uint8)
    orange[:] = (40, 160, 250)
    assert verify_image(orange, d, FireVerifyConfig()).names == ["fire"]


@pytest.mark.parametrize(("colour", "model_class", "score", "passes_as"), [
    ((40, 160, 250), 0, 0.9, ["fire"]),  # an orange blaze the model calls smoke
    ((128, 128, 128), 1, 0.9, ["smoke"]),  # a grey (overexposed) box the model calls fire
    ((40, 160, 250), 0, 0.3, []),  # the other class needs the stricter score (smoke's 0.45)
    ((128, 128, 128), 1, 0.3, []),
    ((200, 160, 110), 1, 0.9, []),  # a blue-tinted box: neither flame-coloured nor grey
])
def test_cross_class_boxes_pass_as_what_they_look_like(
    colour: tuple[int, int, int], model_class: int, score: float, passes_as: list[str]
) -> None:
    image = np.full((40, 40, 3), colour, np.uint8)
    d = Detections.from_arrays([[0, 0, 40, 40]], [score], [model_class], ("smoke", "fire"))
    assert verify_image(image, d, FireVerifyConfig()).names == passes_as
    assert len(verify_image(image, d, FireVerifyConfig(min_cross_fire_pixels=1.01))) == 0


def test_ultralytics_own_tracker_gives_stable_ids(fire_model: Backend) -> None:
    model = build_backend(UltralyticsConfig(model="yolov8s-fire-smoke", imgsz=320, own_tracker=True, confidence=0.05))
    frames = frames_of(MEDIA / "fire" / "furg_video" / "house6.mp4", every_s=0.1, until_s=0.35)
    ids = [model.detect(f.image).tracker_id.tolist() for f in frames]
    assert len(ids) == 4 and ids[-1] and all(i >= 0 for i in ids[-1]) and ids[-1] == ids[-2]


def test_small_boxes_fail_the_size_check() -> None:
    frame = np.zeros((200, 200, 3), np.uint8)
    frame[:] = (40, 160, 250)  # all flame-coloured
    d = Detections.from_arrays([[0, 0, 20, 20], [0, 0, 40, 40]], [0.9, 0.9], [1, 1], ("smoke", "fire"))
    kept = verify_image(frame, d, FireVerifyConfig(min_box_area=0.02))  # 400 px is 1 %, 1600 px is 4 % of the frame
    assert kept.xyxy.tolist() == [[0, 0, 40, 40]]
    assert len(verify_image(frame, d, FireVerifyConfig(min_box_area=0.0))) == 2


def test_smoke_must_be_grey_not_tinted() -> None:
    grey, beige = np.full((40, 40, 3), 150, np.uint8), np.full((40, 40, 3), (110, 160, 200), np.uint8)
    d = Detections.from_arrays([[0, 0, 40, 40]], [0.9], [0], ("smoke", "fire"))
    assert verify_image(grey, d, FireVerifyConfig()).names == ["smoke"]
    assert verify_image(beige, d, FireVerifyConfig()).names != ["smoke"]  # saturation ~0.45 > 0.2: a wall, not smoke
    assert len(verify_image(beige, d, FireVerifyConfig(min_cross_fire_pixels=1.01))) == 0


def test_overexposed_flame_cores_count_as_flame() -> None:
    core = np.full((10, 10, 3), (200, 235, 250), np.uint8)  # BGR white-yellow: what CCTV shows of a flame's core
    white = np.full((10, 10, 3), 250, np.uint8)  # a white lamp or wall: not warm
    assert flame_mask(core).all() and not flame_mask(white).any()


def test_mirrored_boxes_map_back_to_the_frame() -> None:
    d = Detections.from_arrays([[10, 5, 30, 25]], [0.8], [1], ("smoke", "fire"))
    back = mirrored(d, 100)
    assert back.xyxy.tolist() == [[70, 5, 90, 25]] and back.names == ["fire"]
    assert mirrored(back, 100).xyxy.tolist() == d.xyxy.tolist()


def test_mirror_option_finds_the_fire_where_it_is(fire_model: Backend) -> None:
    """The model shown the mirrored frame boxes the same smoke over house6's roof, in the original
    frame's pixels (a box left unmirrored would sit at the other side of the 426 px wide frame)."""
    frame = frames_of(MEDIA / "fire" / "furg_video" / "house6.mp4", every_s=1.0, until_s=3.5)[-1]
    assert round(frame.t) == 3
    mirror = build_backend(UltralyticsConfig(model="yolov8s-fire-smoke", confidence=0.25, mirror=True))
    plain, flipped = fire_model.detect(frame.image), mirror.detect(frame.image)
    assert len(plain) and len(flipped) and flipped.names[int(np.argmax(flipped.confidence))] == "smoke"
    a, b = plain.xyxy[np.argmax(plain.confidence)], flipped.xyxy[np.argmax(flipped.confidence)]
    lo, hi = np.maximum(a[:2], b[:2]), np.minimum(a[2:], b[2:])
    inter = float(np.prod(np.clip(hi - lo, 0, None)))
    assert inter / (np.prod(a[2:] - a[:2]) + np.prod(b[2:] - b[:2]) - inter) > 0.5
    # The model did see another image: its score moves (0.70 on the frame, 0.29 mirrored, measured here).
    assert abs(float(plain.confidence.max()) - float(flipped.confidence.max())) > 0.05
