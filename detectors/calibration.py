"""Optional image-to-ground calibration: four image points and where they lie in metres.

An installer paces out four marks on flat ground (bay corners, kerb stones) and gives their pixel
and metric positions; ``cv2.getPerspectiveTransform`` turns that into a homography, so distances
between people (crowd clusters) and how far a vehicle moved (parking) are in metres, not in pixels
that shrink with distance from the camera. Only valid for points on that ground plane, which is
why rules project the bottom-centre anchor of each box.
"""

from __future__ import annotations

import cv2
import numpy as np
from pydantic import BaseModel, ConfigDict, Field, model_validator

Point = tuple[float, float]


class CalibrationConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    image_points: list[Point] = Field(min_length=4, max_length=4, description="four [x, y] pixels on the ground")
    ground_points_m: list[Point] = Field(
        min_length=4, max_length=4, description="the same four points as [x, y] metres on the ground plane"
    )

    @model_validator(mode="after")
    def _not_degenerate(self) -> "CalibrationConfig":
        for name, pts in (("image_points", self.image_points), ("ground_points_m", self.ground_points_m)):
            p = np.asarray(pts, dtype=np.float64)
            if not np.isfinite(p).all():
                raise ValueError(f"{name}: every coordinate must be a finite number")
            if _min_triangle_area(p) < 1e-6:
                raise ValueError(f"{name}: three of the four points are on one line; pick a quadrilateral")
            if not _convex_in_order(p):
                raise ValueError(f"{name}: the four points, in the order given, do not go around a convex "
                                 "quadrilateral; list both image_points and ground_points_m in the same order "
                                 "around the marks (for example clockwise from the nearest left mark)")
        return self


def _convex_in_order(p: np.ndarray) -> bool:
    """Whether the points, taken in order, go around a convex polygon (either way round). Two marks
    listed in swapped order cross the quadrilateral, and the homography then bends the ground."""
    edges = np.roll(p, -1, axis=0) - p
    following = np.roll(edges, -1, axis=0)
    turns = edges[:, 0] * following[:, 1] - edges[:, 1] * following[:, 0]
    return bool((turns > 0).all() or (turns < 0).all())


def _min_triangle_area(p: np.ndarray) -> float:
    areas = []
    for i in range(4):
        a, b, c = (p[j] for j in range(4) if j != i)
        (ux, uy), (vx, vy) = b - a, c - a
        areas.append(abs(ux * vy - uy * vx) / 2.0)
    return float(min(areas))


class GroundPlane:
    """Pixels to metres on the ground (and back)."""

    def __init__(self, config: CalibrationConfig) -> None:
        src = np.asarray(config.image_points, dtype=np.float32)
        dst = np.asarray(config.ground_points_m, dtype=np.float32)
        self.h = cv2.getPerspectiveTransform(src, dst)

    def to_metres(self, points: np.ndarray) -> np.ndarray:
        """(N, 2) image pixels to (N, 2) ground metres."""
        pts = np.asarray(points, dtype=np.float32).reshape(-1, 1, 2)
        if len(pts) == 0:
            return np.zeros((0, 2), np.float32)
        return cv2.perspectiveTransform(pts, self.h).reshape(-1, 2)

    def distance_m(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """Ground distance between paired image points a[i] and b[i]."""
        return np.linalg.norm(self.to_metres(a) - self.to_metres(b), axis=1)
