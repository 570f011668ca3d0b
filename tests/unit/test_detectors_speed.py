"""What the detector speed work relies on: per-stage times, and the COCO models at other input sizes.

The tests run the real models on real footage (../shared/media/video/vtest.avi) and skip, with the
reason, when either is not beside the repo.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
from pydantic import ValidationError

from detectors.backends import Backend, CenterNetConfig, NanoDetConfig, build_backend
from detectors.backends.onnx_input import model_at_size
from detectors.config import CameraDetectorsConfig
from detectors.labels import PERSON, VEHICLES
from detectors.models import ModelError, resolve
from detectors.pipeline import STAGES, CameraDetectors, ZoneRules
from detectors.types import TimedFrame
from tests.unit.test_detectors_vtest import VAN_BAY, VTEST, WALKWAY, read_frames

STEP = 50  # every 5 s of the 10 fps clip: 16 frames


@pytest.fixture(scope="module")
def frames() -> list[TimedFrame]:
    if not VTEST.is_file():
        pytest.skip(f"{VTEST} not found (tests read ../shared/media in place)")
    return read_frames(VTEST, STEP)


def backend(config: CenterNetConfig | NanoDetConfig) -> Backend:
    try:
        return build_backend(config)
    except ModelError as exc:
        pytest.skip(str(exc))


def counts(model: Backend, frames: list[TimedFrame]) -> tuple[list[int], list[int]]:
    """Walkers on the walkway and vehicles in the van's bay, per frame."""
    dets = [model.detect(f.image).of_classes(PERSON | VEHICLES) for f in frames]
    people = [int(WALKWAY.contains(d.of_classes(PERSON)).sum()) for d in dets]
    vans = [int(VAN_BAY.contains(d.of_classes(VEHICLES)).sum()) for d in dets]
    return people, vans


def test_stage_times_say_where_a_frame_went(frames: list[TimedFrame]) -> None:
    zones = [ZoneRules(WALKWAY)]
    try:
        cam = CameraDetectors.build(CameraDetectorsConfig(backend=CenterNetConfig(threads=1)), zones)
    except ModelError as exc:
        pytest.skip(str(exc))
    first = cam.process(frames[0])
    again = cam.process(TimedFrame(frames[0].image, frames[0].t + 0.5))  # unchanged: motion-gated
    assert set(first.times.wall) == set(first.times.cpu) == set(STAGES)
    assert first.detected and first.times.wall["detect"] > 0 and first.times.cpu["detect"] > 0
    assert first.times.wall["track"] > 0 and first.times.wall["gate"] > 0
    assert not again.detected and again.times.wall["detect"] == 0 and again.times.wall["track"] == 0
    assert again.times.wall["gate"] > 0 and again.times.wall["rules"] > 0


def test_model_at_its_own_size_is_loaded_from_its_path() -> None:
    path = Path("/models/coco/x.onnx")
    assert model_at_size(path, 416, (416, 416)) == str(path)


def test_other_sizes_need_the_onnx_package(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "onnx", None)  # import onnx now raises ImportError
    with pytest.raises(ModelError, match="onnx package"):
        model_at_size(Path("/models/coco/x.onnx"), 416, (320, 320))


@pytest.mark.parametrize("size", [300, 96, 2048])
def test_input_size_must_be_a_multiple_of_32_in_range(size: int) -> None:
    with pytest.raises(ValidationError, match="input_size"):
        NanoDetConfig(input_size=size)


def test_nanodet_at_320_sees_what_it_sees_at_416(frames: list[TimedFrame]) -> None:
    people_416, vans_416 = counts(backend(NanoDetConfig(threads=1)), frames)
    people_320, vans_320 = counts(backend(NanoDetConfig(input_size=320, threads=1)), frames)
    assert all(v >= 1 for v in vans_416) and all(v >= 1 for v in vans_320)  # the parked van, every frame
    assert np.median(people_416) >= 3 and np.median(people_320) >= 3
    assert abs(np.median(people_320) - np.median(people_416)) <= 1
    assert max(abs(a - b) for a, b in zip(people_320, people_416)) <= 4


def test_centernet_at_416_rewrites_its_output_grid(frames: list[TimedFrame]) -> None:
    model = backend(CenterNetConfig(input_size=416, threads=1))
    dets = [model.detect(f.image) for f in frames[:4]]
    h, w = frames[0].image.shape[:2]
    assert all(len(d.of_classes(PERSON)) >= 2 for d in dets)  # boxes land on walkers, not garbage
    boxes = np.concatenate([d.xyxy for d in dets])
    assert (boxes[:, 2] <= w).all() and (boxes[:, 3] <= h).all() and (boxes[:, 2:] >= boxes[:, :2]).all()


def test_a_model_without_the_grid_reshape_refuses_another_size() -> None:
    try:
        path, _ = resolve("nanodet-coco")
    except ModelError as exc:
        pytest.skip(str(exc))
    with pytest.raises(ModelError, match="cannot change its input size"):
        model_at_size(path, 416, (320, 320), stride=4)  # NanoDet's heads are reshaped with -1, not a cell count


def test_centernet_at_the_cameras_4_to_3_still_sees_the_van_and_the_walkers(frames: list[TimedFrame]) -> None:
    people_square, vans_square = counts(backend(CenterNetConfig(threads=1)), frames)
    people_43, vans_43 = counts(backend(CenterNetConfig(input_size=512, input_height=384, threads=1)), frames)
    assert all(v >= 1 for v in vans_square) and all(v >= 1 for v in vans_43)
    # the trade-off: the odd far walker is lost, never more than 3 in a frame, about 1 at the median
    assert np.median(people_43) >= np.median(people_square) - 1.5 and np.median(people_43) >= 3
    assert max(a - b for a, b in zip(people_square, people_43)) <= 3


def test_nanodet_input_blob_is_the_models_normalisation(frames: list[TimedFrame]) -> None:
    import cv2

    from detectors.backends.onnx_nanodet import MEAN, STD

    model = backend(NanoDetConfig(input_size=320, input_height=256, threads=1))
    image = frames[0].image
    expected = ((cv2.resize(image, (320, 256)).astype(np.float32) - MEAN) / STD).transpose(2, 0, 1)[None]
    blob = cv2.dnn.blobFromImageWithParams(image, model.blob)  # type: ignore[attr-defined]
    assert blob.shape == (1, 3, 256, 320)
    np.testing.assert_allclose(blob, expected, atol=1e-4)
    assert len(model.detect(image).of_classes(PERSON)) >= 2  # and the non-square model still sees walkers
