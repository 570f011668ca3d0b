"""Polygon zones in image pixels, tested at each box's bottom centre.

Like supervision's ``PolygonZone``: a zone is a small object whose ``contains`` answers one
bool per box. The anchor is the bottom centre because that is where feet and tyres meet the
ground; a person walking *past* a van overlaps the van's box but stands outside its bay.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np

from detectors.types import Detections


@dataclass(frozen=True)
class Zone:
    id: str
    polygon: np.ndarray  # float32 (K, 2), image pixels
    kind: str = "other"
    _contour: np.ndarray = field(init=False, repr=False)

    def __post_init__(self) -> None:
        poly = np.asarray(self.polygon, dtype=np.float32).reshape(-1, 2)
        if len(poly) < 3:
            raise ValueError(f"zone {self.id}: a polygon needs at least 3 points")
        object.__setattr__(self, "polygon", poly)
        object.__setattr__(self, "_contour", poly.reshape(-1, 1, 2))

    def contains_points(self, points: np.ndarray) -> np.ndarray:
        """bool (N,): each (x, y) inside or on the edge of the polygon."""
        return np.array(
            [cv2.pointPolygonTest(self._contour, (float(x), float(y)), False) >= 0 for x, y in points],
            dtype=bool,
        )

    def contains(self, detections: Detections) -> np.ndarray:
        """bool (N,): each box's bottom-centre anchor inside the zone."""
        if len(detections) == 0:
            return np.zeros(0, dtype=bool)
        return self.contains_points(detections.anchors())

    def inside(self, detections: Detections) -> Detections:
        return detections[self.contains(detections)]
