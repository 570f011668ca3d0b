"""The values passed between backends, tracker and rules: never bare tuples.

``Detections`` mirrors supervision's ``sv.Detections`` (xyxy, confidence, class_id, tracker_id)
so that the tracker adapter converts without copying semantics, but it also carries the label
names of the model that produced it: a fire model's class 0 is not COCO's class 0.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, Literal

import numpy as np

Phase = Literal["start", "update", "end"]


def _as(a: Any, dtype: Any, shape: tuple[int, ...]) -> np.ndarray:
    arr = np.asarray(a, dtype=dtype)
    return arr.reshape(shape)


@dataclass(frozen=True, eq=False)
class Detections:
    """Boxes of one frame in image pixels, with score, class and (after tracking) track id.

    >>> d = Detections.from_arrays([[0, 0, 10, 20]], [0.9], [0], ("person",))
    >>> d.names, d.anchors().tolist()
    (['person'], [[5.0, 20.0]])
    """

    xyxy: np.ndarray  # float32 (N, 4): x1, y1, x2, y2
    confidence: np.ndarray  # float32 (N,)
    class_id: np.ndarray  # int32 (N,)
    class_names: tuple[str, ...]  # class_id -> name, for the model's label set
    tracker_id: np.ndarray | None = None  # int64 (N,), -1 while a track is not yet confirmed

    def __post_init__(self) -> None:
        n = len(self.xyxy)
        if self.confidence.shape != (n,) or self.class_id.shape != (n,):
            raise ValueError("xyxy, confidence and class_id must have the same length")
        if self.tracker_id is not None and self.tracker_id.shape != (n,):
            raise ValueError("tracker_id must have one entry per box")

    @classmethod
    def from_arrays(
        cls,
        xyxy: Any,
        confidence: Any,
        class_id: Any,
        class_names: tuple[str, ...],
        tracker_id: Any | None = None,
    ) -> "Detections":
        n = len(confidence)
        return cls(
            xyxy=_as(xyxy, np.float32, (n, 4)),
            confidence=_as(confidence, np.float32, (n,)),
            class_id=_as(class_id, np.int32, (n,)),
            class_names=tuple(class_names),
            tracker_id=None if tracker_id is None else _as(tracker_id, np.int64, (n,)),
        )

    @classmethod
    def empty(cls, class_names: tuple[str, ...] = ()) -> "Detections":
        return cls.from_arrays(np.zeros((0, 4)), [], [], class_names)

    def __len__(self) -> int:
        return len(self.xyxy)

    def __getitem__(self, index: Any) -> "Detections":
        """Select by boolean mask or index array, keeping every column aligned."""
        idx = np.asarray(index)
        if idx.dtype != bool:
            idx = idx.astype(np.int64).reshape(-1)
        return Detections(
            xyxy=self.xyxy[idx].reshape(-1, 4),
            confidence=self.confidence[idx].reshape(-1),
            class_id=self.class_id[idx].reshape(-1),
            class_names=self.class_names,
            tracker_id=None if self.tracker_id is None else self.tracker_id[idx].reshape(-1),
        )

    @property
    def names(self) -> list[str]:
        return [self.class_names[i] if 0 <= i < len(self.class_names) else str(i) for i in self.class_id]

    def of_classes(self, names: frozenset[str] | set[str]) -> "Detections":
        return self[np.array([n in names for n in self.names], dtype=bool)]

    def above(self, min_confidence: float) -> "Detections":
        return self[self.confidence >= min_confidence]

    def tracked(self) -> "Detections":
        """Only boxes that carry a confirmed track id."""
        if self.tracker_id is None:
            return self[np.zeros(len(self), dtype=bool)]
        return self[self.tracker_id >= 0]

    def with_tracker_ids(self, tracker_id: np.ndarray) -> "Detections":
        return replace(self, tracker_id=_as(tracker_id, np.int64, (len(self),)))

    def anchors(self) -> np.ndarray:
        """Bottom-centre of each box, (N, 2): where feet and tyres touch the ground."""
        x = (self.xyxy[:, 0] + self.xyxy[:, 2]) / 2.0
        return np.stack([x, self.xyxy[:, 3]], axis=1).astype(np.float32)

    def areas(self) -> np.ndarray:
        wh = np.clip(self.xyxy[:, 2:] - self.xyxy[:, :2], 0, None)
        return wh[:, 0] * wh[:, 1]

    @staticmethod
    def merge(parts: list["Detections"]) -> "Detections":
        """Concatenate detections that share one label set."""
        parts = [p for p in parts if len(p)] or parts[:1]
        if not parts:
            return Detections.empty()
        names = parts[0].class_names
        if any(p.class_names != names for p in parts):
            raise ValueError("cannot merge detections from different label sets")
        tids = None if any(p.tracker_id is None for p in parts) else np.concatenate([p.tracker_id for p in parts])
        return Detections(
            xyxy=np.concatenate([p.xyxy for p in parts]).astype(np.float32),
            confidence=np.concatenate([p.confidence for p in parts]).astype(np.float32),
            class_id=np.concatenate([p.class_id for p in parts]).astype(np.int32),
            class_names=names,
            tracker_id=tids,
        )


@dataclass(frozen=True, eq=False)
class TimedFrame:
    """A decoded BGR frame and when it was seen.

    ``t`` is seconds on the video's own time base (stream PTS, or frame index / fps for a file),
    so dwell and duration do not depend on how fast this machine processes frames. ``wall`` is
    the local civil time, used only for time-of-day rules (a fire lane's limit at night).
    """

    image: np.ndarray
    t: float
    wall: datetime | None = None


@dataclass(frozen=True)
class AlertDecision:
    """What a rule decided on one frame, ready for the edge to turn into a contract ``Alert``.

    ``episode`` is stable across the start, updates and end of one condition, so the edge can
    derive alert ids from it; ``boxes`` (float32 (K, 4), image pixels) are what to draw on the
    snapshot.
    """

    phase: Phase
    category: str
    type: str
    zone_id: str | None
    episode: str
    t: float
    confidence: float
    attributes: dict[str, Any] = field(default_factory=dict)
    boxes: np.ndarray = field(default_factory=lambda: np.zeros((0, 4), np.float32))
