"""The one interface every detector backend offers: a BGR frame in, ``Detections`` out.

As in frigate's ``detection_api.py``, each backend pairs with its own pydantic config class whose
``type`` is a literal; ``backends.BackendConfig`` gathers them into a discriminated union, so an
unknown ``type`` fails when the site file is loaded rather than when a camera starts.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import ClassVar, Iterator

import cv2
import numpy as np
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from detectors.types import Detections


class BackendConfigBase(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    model: str = Field(description="manifest name (models/manifest.yaml) or a path under GRIDWATCH_MODELS_DIR")
    confidence: float = Field(0.3, ge=0.0, le=1.0, description="boxes scoring below this are dropped")
    classes: list[str] | None = Field(
        None, description="keep only these labels (e.g. [person, car]); None keeps all"
    )
    threads: int = Field(2, ge=1, le=16, description="CPU threads for inference (edge boxes are small)")
    tiles: int = Field(
        1, ge=1, le=4, description="also detect on an n x n grid of overlapping tiles, for small people in "
        "high-resolution frames (the models see 416-512 px); costs n*n + 1 inferences per frame"
    )
    tile_grid: tuple[int, int] | None = Field(
        None, description="[columns, rows] of overlapping tiles instead of tiles x tiles, e.g. [2, 1] for a "
        "16:9 view: each tile is then about square, so the model's square input does not squash people; "
        "costs columns*rows inferences (plus one for the whole frame if tile_whole_frame)"
    )
    tile_whole_frame: bool = Field(True, description="with tile_grid, also detect on the whole frame")
    letterbox: bool = Field(
        False, description="pad each view (whole frame or tile_grid tile) to a square before the model's plain resize, so "
        "objects keep their shape (a 16:9 frame squashed to 512x512 halves people's width)"
    )
    also_mirrored: bool = Field(
        False, description="also detect on each view mirrored left-right and keep the boxes of both (test-time "
        "augmentation): the model finds some seated or half-hidden people only one way round; doubles the inferences"
    )

    @field_validator("tile_grid")
    @classmethod
    def _grid_in_range(cls, v: tuple[int, int] | None) -> tuple[int, int] | None:
        if v is not None and not all(1 <= n <= 4 for n in v):
            raise ValueError("tile_grid is [columns, rows], each 1-4")
        return v

    @model_validator(mode="after")
    def _one_tiling(self) -> "BackendConfigBase":
        if self.tiles > 1 and (self.tile_grid is not None or self.letterbox):
            raise ValueError(f"tiles: {self.tiles} cannot be combined with tile_grid or letterbox: "
                             f"use tile_grid: [{self.tiles}, {self.tiles}] instead")
        return self


class Backend(ABC):
    """A loaded model. ``detect`` must be safe to call once per frame from one thread."""

    type_key: ClassVar[str]
    labels: tuple[str, ...]

    def __init__(self, config: BackendConfigBase) -> None:
        self.config = config

    @abstractmethod
    def _infer(self, frame_bgr: np.ndarray) -> Detections:
        """Raw model output decoded to image-pixel Detections (before class/score filters)."""

    def detect(self, frame_bgr: np.ndarray) -> Detections:
        if self.config.tile_grid is not None:
            views = list(self._grid(frame_bgr))
        elif self.config.tiles > 1:
            views = list(self._tiled(frame_bgr))
        else:
            views = [self._view(frame_bgr)]
        one_pass = len(views) == 1 and not self.config.also_mirrored  # the model's own NMS is enough
        dets = (views[0] if one_pass else nms(Detections.merge(views), 0.5)).above(self.config.confidence)
        if self.config.classes is not None:
            dets = dets.of_classes(set(self.config.classes))
        return dets

    def _tiled(self, frame_bgr: np.ndarray, overlap: float = 0.15) -> "Iterator[Detections]":
        """The whole frame, then each tile, with tile boxes shifted back to frame pixels."""
        yield self._view(frame_bgr)
        h, w = frame_bgr.shape[:2]
        n = self.config.tiles
        tw, th = min(w, int(w / n * (1 + overlap))), min(h, int(h / n * (1 + overlap)))
        for i in range(n):
            for j in range(n):
                x0, y0 = min(int(j * w / n), w - tw), min(int(i * h / n), h - th)
                d = self._view(frame_bgr[y0 : y0 + th, x0 : x0 + tw])
                shift = np.array([x0, y0, x0, y0], np.float32)
                yield Detections.from_arrays(d.xyxy + shift, d.confidence, d.class_id, d.class_names, d.tracker_id)

    def _view(self, view_bgr: np.ndarray) -> Detections:
        """``_infer`` on one view (``_square``), and on the view mirrored with ``also_mirrored``."""
        found = self._square(view_bgr)
        if not self.config.also_mirrored:
            return found
        return Detections.merge([found, mirrored(self._square(cv2.flip(view_bgr, 1)), view_bgr.shape[1])])

    def _square(self, view_bgr: np.ndarray) -> Detections:
        """``_infer`` on one view, padded at the bottom or right to a square with ``letterbox``
        (so box coordinates need no shift, only clipping to the view)."""
        if not self.config.letterbox:
            return self._infer(view_bgr)
        h, w = view_bgr.shape[:2]
        square = np.zeros((max(h, w), max(h, w), 3), view_bgr.dtype)
        square[:h, :w] = view_bgr
        d = self._infer(square)
        xyxy = np.clip(d.xyxy, 0, [w, h, w, h])
        return Detections.from_arrays(xyxy, d.confidence, d.class_id, d.class_names, d.tracker_id)

    def _grid(self, frame_bgr: np.ndarray, overlap: float = 0.15) -> "Iterator[Detections]":
        """With ``tile_grid``: optionally the whole frame, then each tile, boxes in frame pixels."""
        if self.config.tile_whole_frame:
            yield self._view(frame_bgr)
        for x0, y0, tw, th in grid_tiles(frame_bgr.shape[1], frame_bgr.shape[0], self.config.tile_grid, overlap):
            d = self._view(frame_bgr[y0 : y0 + th, x0 : x0 + tw])
            shift = np.array([x0, y0, x0, y0], np.float32)
            yield Detections.from_arrays(d.xyxy + shift, d.confidence, d.class_id, d.class_names, d.tracker_id)


def mirrored(dets: Detections, width: int) -> Detections:
    """Boxes found on a left-right mirrored view, in the original view's pixels."""
    xyxy = dets.xyxy.copy()
    xyxy[:, [0, 2]] = width - dets.xyxy[:, [2, 0]]
    return Detections.from_arrays(xyxy, dets.confidence, dets.class_id, dets.class_names, dets.tracker_id)


def grid_tiles(width: int, height: int, grid: tuple[int, int], overlap: float) -> list[tuple[int, int, int, int]]:
    """(x0, y0, w, h) of ``grid`` = (columns, rows) tiles, each ``overlap`` larger than its cell."""
    cols, rows = grid
    tw, th = min(width, int(width / cols * (1 + overlap))), min(height, int(height / rows * (1 + overlap)))
    return [
        (min(int(j * width / cols), width - tw), min(int(i * height / rows), height - th), tw, th)
        for i in range(rows)
        for j in range(cols)
    ]


def nms(dets: Detections, iou: float) -> Detections:
    """Class-wise non-maximum suppression (OpenCV's batched NMS)."""
    if len(dets) == 0:
        return dets
    xywh = dets.xyxy.copy()
    xywh[:, 2:] -= xywh[:, :2]
    keep = cv2.dnn.NMSBoxesBatched(
        xywh.tolist(), dets.confidence.tolist(), dets.class_id.tolist(), 0.0, iou
    )
    return dets[np.asarray(keep, dtype=np.int64).reshape(-1)]


def onnx_session(model: str | bytes, threads: int):  # noqa: ANN201 - onnxruntime type stays lazy
    """An ONNX Runtime CPU session limited to ``threads`` (the edge box is shared); ``model`` is a
    path or a serialized model."""
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads
    opts.inter_op_num_threads = 1
    opts.log_severity_level = 3
    return ort.InferenceSession(model, sess_options=opts, providers=["CPUExecutionProvider"])
