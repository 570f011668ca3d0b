"""Track ids for every person and vehicle, from ByteTrack.

Why Roboflow's ``trackers`` package (Apache-2.0): it is the maintained home of supervision's
ByteTrack (supervision 0.31 no longer ships ``sv.ByteTrack``), it installs without torch, and its
``ByteTrackTracker`` (a) allocates ids from a per-instance counter, so the same frames give the same
ids on every run, and (b) takes each frame's timestamp, so a lost track expires after *seconds*
rather than frames; that matters here because motion gating and frame skipping make the frame
rate uneven. ultralytics' own trackers need torch at import, which the ONNX edge does not have.
We wrap it so the rest of GridWatch sees only ``Detections``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from detectors.types import Detections


class TrackerConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    lost_track_s: float = Field(
        3.0, gt=0, description="seconds a lost track is kept for re-association (occlusion, detector misses)"
    )
    activation_confidence: float = Field(0.3, ge=0, le=1, description="score a box needs to start a new track")
    high_confidence: float = Field(
        0.35, ge=0, le=1, description="boxes above this match first; weaker ones only extend existing tracks"
    )
    min_consecutive_frames: int = Field(2, ge=1, description="matches before a track gets an id")
    min_iou: float = Field(0.1, ge=0, le=1, description="least IoU between a track's prediction and a box")


class Tracker:
    """One ByteTrack per camera. ``update`` returns every input box, untracked ones with id -1."""

    def __init__(self, config: TrackerConfig | None = None, frame_rate: float = 10.0) -> None:
        from trackers import ByteTrackTracker  # imported late: ~1 s, and only cameras that track need it

        c = config or TrackerConfig()
        self._tracker = ByteTrackTracker(
            lost_track_buffer=max(1, round(c.lost_track_s * 30)),  # the library counts 30 fps frames
            frame_rate=frame_rate,
            track_activation_threshold=c.activation_confidence,
            minimum_consecutive_frames=c.min_consecutive_frames,
            minimum_iou_threshold=c.min_iou,
            high_conf_det_threshold=c.high_confidence,
        )

    def update(self, detections: Detections, t: float) -> Detections:
        """Associate this frame's boxes with tracks; ``t`` in seconds on the video's time base."""
        result = self._tracker.update(_to_sv(detections), timestamp=t)
        return _from_sv(result, detections.class_names)

    def reset(self) -> None:
        self._tracker.reset()


def _to_sv(d: Detections) -> Any:
    import supervision as sv

    return sv.Detections(xyxy=d.xyxy.astype(np.float32), confidence=d.confidence, class_id=d.class_id)


def _from_sv(r: Any, class_names: tuple[str, ...]) -> Detections:
    n = len(r)
    if n == 0:
        return Detections.empty(class_names).with_tracker_ids(np.zeros(0, np.int64))
    return Detections.from_arrays(
        r.xyxy,
        r.confidence if r.confidence is not None else np.ones(n),
        r.class_id if r.class_id is not None else np.zeros(n),
        class_names,
        r.tracker_id,
    )
