"""Any ultralytics YOLO weights (.pt, or an exported .onnx) an installer brings.

ultralytics pulls torch (several GB), so it is an optional extra and imported only when this
backend is built. ``YOLO_OFFLINE=1`` and ``YOLO_AUTOINSTALL=false`` are set first, so nothing
tries the network or pip at run time. With ``own_tracker`` the model's own ByteTrack
(``model.track(persist=True)``) assigns track ids and the pipeline's tracker leaves them alone.
"""

from __future__ import annotations

import os
from typing import Any, Literal

import cv2
import numpy as np
from pydantic import Field, model_validator

from detectors.backends.base import Backend, BackendConfigBase, mirrored
from detectors.models import resolve
from detectors.types import Detections

MISSING = "ultralytics is not installed: install the yolo extra: pip install -e '.[yolo]'"


class UltralyticsConfig(BackendConfigBase):
    type: Literal["ultralytics"] = "ultralytics"
    imgsz: int = Field(640, ge=64, le=2048, description="inference size; 320 is ~3x faster on CPU, sees less")
    iou: float = Field(0.5, gt=0.0, le=1.0, description="NMS IoU inside ultralytics")
    own_tracker: bool = Field(False, description="let ultralytics' ByteTrack assign track ids (model.track)")
    mirror: bool = Field(
        False, description="show the model the frame mirrored left-right and mirror its boxes back (same cost; "
        "the fire model's scores on one view are noisy, see models/cards/yolov8s-fire-smoke.md)"
    )
    labels: list[str] | None = Field(
        None, description="class names by class id, overriding the manifest's and the checkpoint's own"
    )

    @model_validator(mode="after")
    def _one_pass_per_frame_for_tracking(self) -> "UltralyticsConfig":
        if self.also_mirrored and self.own_tracker:
            raise ValueError("also_mirrored runs the model twice per view, which ultralytics' own tracker cannot "
                             "follow: set own_tracker: false (the pipeline's ByteTrack then assigns track ids)")
        if self.own_tracker and (self.tiles > 1 or self.tile_grid is not None):
            raise ValueError("tiles run the model once per tile, and ultralytics' own tracker would take each tile "
                             "for a frame: set own_tracker: false (the pipeline's ByteTrack then assigns track ids)")
        if self.also_mirrored and self.mirror:
            raise ValueError("mirror and also_mirrored both set: mirror shows only the mirrored frame, "
                             "also_mirrored shows both; keep one")
        return self


def load_yolo(path: str) -> Any:
    """Import ultralytics offline and load weights; a clear error when the extra is missing."""
    os.environ.setdefault("YOLO_OFFLINE", "1")
    os.environ.setdefault("YOLO_AUTOINSTALL", "false")
    os.environ.setdefault("YOLO_VERBOSE", "false")
    try:
        from ultralytics import YOLO
    except ImportError as exc:  # torch or ultralytics absent
        raise ImportError(MISSING) from exc
    return YOLO(path)


class UltralyticsBackend(Backend):
    type_key = "ultralytics"

    def __init__(self, config: UltralyticsConfig) -> None:
        super().__init__(config)
        path, spec = resolve(config.model)
        self.model = load_yolo(str(path))
        _limit_torch_threads(config.threads)
        self.labels = pick_labels(config.labels, spec.labels if spec else None, self.model.names)

    def _infer(self, frame_bgr: np.ndarray) -> Detections:
        c: UltralyticsConfig = self.config  # type: ignore[assignment]
        kwargs = dict(imgsz=c.imgsz, conf=min(c.confidence, 0.25), iou=c.iou, verbose=False, device="cpu")
        view = cv2.flip(frame_bgr, 1) if c.mirror else frame_bgr
        if c.own_tracker:
            result = self.model.track(view, persist=True, tracker="bytetrack.yaml", **kwargs)[0]
        else:
            result = self.model.predict(view, **kwargs)[0]
        dets = self._to_detections(result.boxes)
        return mirrored(dets, frame_bgr.shape[1]) if c.mirror else dets

    def _to_detections(self, boxes: Any) -> Detections:
        xyxy = boxes.xyxy.cpu().numpy()
        tid = None
        if boxes.id is not None:
            tid = boxes.id.cpu().numpy().astype(np.int64)
        elif self.config.own_tracker:  # type: ignore[attr-defined]
            tid = np.full(len(xyxy), -1, dtype=np.int64)
        return Detections.from_arrays(
            xyxy, boxes.conf.cpu().numpy(), boxes.cls.cpu().numpy().astype(np.int32), self.labels, tid
        )


def pick_labels(configured: list[str] | None, manifest: Any, checkpoint: dict[int, str]) -> tuple[str, ...]:
    """Site config first, then the manifest (which corrects checkpoints saved with wrong names), then the checkpoint."""
    if configured:
        return tuple(configured)
    names = manifest if isinstance(manifest, dict) else checkpoint
    return tuple(str(names[i]).lower() for i in sorted(names))


def _limit_torch_threads(threads: int) -> None:
    import torch

    torch.set_num_threads(threads)
