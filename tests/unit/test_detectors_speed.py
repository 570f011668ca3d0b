"""What the detector speed work relies on: per-stage times.

The tests run the real model on real footage (../shared/media/video/vtest.avi) and skip, with the
reason, when either is not beside the repo.
"""

from __future__ import annotations

import pytest

from detectors.backends import CenterNetConfig
from detectors.config import CameraDetectorsConfig
from detectors.models import ModelError
from detectors.pipeline import STAGES, CameraDetectors, ZoneRules
from detectors.types import TimedFrame
from tests.unit.test_detectors_vtest import VTEST, WALKWAY, read_frames

STEP = 50  # every 5 s of the 10 fps clip: 16 frames


@pytest.fixture(scope="module")
def frames() -> list[TimedFrame]:
    if not VTEST.is_file():
        pytest.skip(f"{VTEST} not found (tests read ../shared/media in place)")
    return read_frames(VTEST, STEP)


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
