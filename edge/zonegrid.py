"""``gridwatch zones draw``: a camera's first frame with a labelled pixel grid and its zones.

Zone polygons are image pixels; an installer at a gate has no tool to read them off the picture.
A grid line every 50 px with its coordinate, plus the zones already configured, is enough to
write ``polygon: [[620, 60], ...]`` by eye and to check it afterwards.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from detectors.pipeline import zone_rules_from_config
from edge.config import CameraConfig
from edge.snapshots import draw_zones, put_label

GRID_STEP = 50
GRID_COLOUR = (255, 255, 255)
IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".webp"}


class ZonesDrawError(Exception):
    """The source yields no picture; the CLI prints it and exits 2."""


def first_frame(source: str) -> np.ndarray:
    """The picture itself, or the first decodable frame of a video file or stream."""
    if Path(source).suffix.lower() in IMAGE_SUFFIXES:
        image = cv2.imread(source)
    else:
        capture = cv2.VideoCapture(source)
        ok, image = capture.read() if capture.isOpened() else (False, None)
        capture.release()
        image = image if ok else None
    if image is None:
        raise ZonesDrawError(f"cannot read a frame from {source}")
    return image


def draw_grid(image: np.ndarray, step: int = GRID_STEP) -> None:
    """Thin lines every ``step`` px, blended so the scene stays visible, labelled at the edges."""
    h, w = image.shape[:2]
    lines = image.copy()
    for x in range(step, w, step):
        cv2.line(lines, (x, 0), (x, h - 1), GRID_COLOUR, 1)
    for y in range(step, h, step):
        cv2.line(lines, (0, y), (w - 1, y), GRID_COLOUR, 1)
    cv2.addWeighted(lines, 0.45, image, 0.55, 0, dst=image)
    for x in range(step, w, step):
        put_label(image, str(x), (x + 2, 14), GRID_COLOUR, 0.4)
    for y in range(step, h, step):
        put_label(image, str(y), (2, y - 2), GRID_COLOUR, 0.4)


def zones_picture(image: np.ndarray, camera: CameraConfig | None, step: int = GRID_STEP) -> np.ndarray:
    out = image.copy()
    draw_grid(out, step)
    if camera is not None:
        draw_zones(out, [r.zone for r in zone_rules_from_config(camera.zones)])
    return out


def write_zones_picture(source: str, output: Path, camera: CameraConfig | None) -> tuple[int, int]:
    """Save the picture as ``output``; returns its (width, height) for the CLI to report."""
    picture = zones_picture(first_frame(source), camera)
    output.parent.mkdir(parents=True, exist_ok=True)
    if not cv2.imwrite(str(output), picture):
        raise ZonesDrawError(f"cannot write {output} (the suffix picks the format: .png, .jpg)")
    return picture.shape[1], picture.shape[0]
