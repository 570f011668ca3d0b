"""A camera's detector settings (``cameras[].detectors`` in the site file), validated at load.

Only pydantic and the rule/backend config classes are imported here, so ``edge.config`` can embed
these models without loading any model, onnxruntime session or torch.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from detectors.backends import BackendConfig, NanoDetConfig, UltralyticsConfig
from detectors.calibration import CalibrationConfig
from detectors.confirm import ConfirmConfig
from detectors.fire import FireVerifyConfig
from detectors.tracking import TrackerConfig


class DetectorConfigModel(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class MotionGateConfig(DetectorConfigModel):
    """Skip object detection while nothing moves: a static scene should cost little."""

    enabled: bool = True
    pixel_delta: int = Field(25, ge=1, le=255, description="grey-level change that counts a pixel as changed")
    min_changed: float = Field(
        0.002, ge=0, le=1, description="share of changed pixels (vs the last detected frame) that triggers detection"
    )
    max_skip_s: float = Field(5.0, gt=0, description="detect at least this often even in a still scene")
    width: int = Field(160, ge=32, le=1280, description="frames are compared at this width (cheap)")


class FireDetectorConfig(DetectorConfigModel):
    backend: BackendConfig = Field(
        default_factory=lambda: UltralyticsConfig(model="yolov8s-fire-smoke", confidence=0.25, imgsz=640),
        description="the fire/smoke model (classes fire, smoke); keep confidence at or below verify's "
        "min_confidence, which decides",
    )
    interval_s: float = Field(1.0, ge=0, description="run the fire model at most this often (it costs ~0.3-0.5 s)")
    verify: FireVerifyConfig = FireVerifyConfig()
    confirm: ConfirmConfig = ConfirmConfig(k=3, n=5, min_duration_s=2.0, clear_s=10.0, cooldown_s=120.0)


def default_coco_backend() -> NanoDetConfig:
    """A camera's COCO model when its site file names none: NanoDet at 320 x 320 on one thread.

    Measured on this 2-core machine (README "Detector speed", models/cards/nanodet-coco.md): about
    6 cameras at 2 fps per core against CenterNet 512's 3.5, parking occupancy 0.932 on the PKLot test
    half with 2x2 tiles (CenterNet 512: 0.935), and the vtest crowd and parking checks pass. One thread,
    because cameras share the cores: two threads per model make four cameras fight over two cores.
    Crowd counting on wide high-resolution views stays a per-camera CenterNet setting
    (configs/cameras/waiting-room-sample.yaml).
    """
    return NanoDetConfig(input_size=320, threads=1)


class CameraDetectorsConfig(DetectorConfigModel):
    """Which models a camera runs and how its rules confirm, repeat and cool down."""

    backend: BackendConfig = Field(
        default_factory=default_coco_backend,
        description="the COCO object model shared by crowd and parking (default: NanoDet at 320 px, one thread)",
    )
    fire: FireDetectorConfig | None = Field(None, description="fire/smoke detection; off unless set")
    tracker: TrackerConfig = TrackerConfig()
    motion: MotionGateConfig = MotionGateConfig()
    crowd_confirm: ConfirmConfig = ConfirmConfig(k=3, n=5, update_interval_s=30.0, clear_s=10.0, cooldown_s=60.0)
    parking_update_interval_s: float = Field(60.0, gt=0, description="how often an ongoing parking alert is repeated")
    calibration: CalibrationConfig | None = Field(None, description="image-to-ground points, for metres")
    frame_rate: float = Field(10.0, gt=0, description="nominal frames per second the pipeline is fed")
