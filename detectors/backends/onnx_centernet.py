"""MobileNetV3 CenterNet (COCO-80) on ONNX Runtime, decoded per ../shared/models/README.md.

Input ``tower_0/images:0``: float32 NHWC 1x512x512x3, RGB 0..255, plain resize (no letterbox).
Output ``tower_0/detections:0``: [1, 100, 6] = x1, y1, x2, y2 in 512-px input coordinates, score,
0-based class. CenterNet needs no NMS by design, but its top-100 can hold a box twice under two
peaks, so a light class-wise NMS is kept. ``input_size`` below 512 runs the same weights on a
smaller input (``onnx_input``): measured on vtest, 416 and below lose walkers and parked vehicles;
512 x 384 (the camera's 4:3) keeps them at 3/4 of the time but misses the odd far walker.
"""

from __future__ import annotations

from typing import Literal

import cv2
import numpy as np
from pydantic import Field

from detectors.backends.base import Backend, BackendConfigBase, nms
from detectors.backends.onnx_input import session_at_size, to_image_pixels
from detectors.labels import COCO80
from detectors.types import Detections

SIZE = 512  # the model's own input size
STRIDE = 4  # output grid cell in input pixels (128 x 128 at 512)


class CenterNetConfig(BackendConfigBase):
    type: Literal["onnx_centernet"] = "onnx_centernet"
    model: str = "centernet-mbv3-coco"
    # CenterNet scores are low: on vtest the parked van scores 0.35-0.44 and walkers 0.3-0.7.
    confidence: float = Field(0.25, ge=0.0, le=1.0, description="boxes scoring below this are dropped")
    nms_iou: float = Field(0.6, gt=0.0, le=1.0, description="IoU above which same-class boxes merge")
    input_size: int = Field(
        SIZE, ge=128, le=1024, multiple_of=32, description="input width the frame is resized to (and height, unless input_height is set); below 512 is "
        "faster (about (size/512)^2 of the time) but misses small people and vehicles (needs the onnx package)"
    )
    input_height: int | None = Field(
        None, ge=128, le=1024, multiple_of=32, description="input height when it differs from input_size "
        "(then the width): 384 with input_size 512 keeps a 4:3 camera's aspect at 3/4 of the time"
    )


class CenterNetBackend(Backend):
    type_key = "onnx_centernet"

    def __init__(self, config: CenterNetConfig) -> None:
        super().__init__(config)
        self.size = (config.input_size, config.input_height or config.input_size)  # width, height
        self.session, self.input_name = session_at_size(config.model, SIZE, self.size, config.threads, STRIDE)
        self.labels = COCO80

    def _infer(self, frame_bgr: np.ndarray) -> Detections:
        h, w = frame_bgr.shape[:2]
        rgb = cv2.cvtColor(cv2.resize(frame_bgr, self.size), cv2.COLOR_BGR2RGB)
        out = self.session.run(None, {self.input_name: rgb[None].astype(np.float32)})[0][0]
        return nms(decode(out, w, h, self.size), self.config.nms_iou)  # type: ignore[attr-defined]


def decode(out: np.ndarray, width: int, height: int, size: tuple[int, int] = (SIZE, SIZE)) -> Detections:
    """[100, 6] rows in input-pixel space (``size`` = input width, height) to image-pixel Detections."""
    xyxy = to_image_pixels(out[:, :4], size, width, height)
    return Detections.from_arrays(xyxy, out[:, 4], out[:, 5].astype(np.int32), COCO80)
