"""Evidence pictures: what the detector saw, drawn on a copy of the frame, saved as JPEG.

A dispatcher deciding whether to send someone needs the picture, not only a count: the boxes
(class and track id), the zones the rules watch and the alert's own words. The same drawing
functions annotate ``gridwatch detect --annotate`` videos, so a snapshot and the video agree.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from pathlib import Path

import cv2
import numpy as np

from detectors.types import Detections
from detectors.zones import Zone

BGR = tuple[int, int, int]
ZONE_COLOURS: dict[str, BGR] = {
    "no_parking": (0, 215, 255),  # amber
    "fire_lane": (0, 0, 255),  # red
    "square": (255, 160, 0),  # blue
    "gate": (255, 0, 255),  # magenta
    "other": (200, 200, 200),  # grey
}
PERSON_COLOUR: BGR = (0, 200, 0)
VEHICLE_COLOUR: BGR = (255, 255, 0)
ALERT_COLOUR: BGR = (0, 0, 255)
FONT = cv2.FONT_HERSHEY_SIMPLEX
JPEG_QUALITY = 85


def zone_colour(kind: str) -> BGR:
    return ZONE_COLOURS.get(kind, ZONE_COLOURS["other"])


def put_label(image: np.ndarray, text: str, origin: tuple[int, int], colour: BGR, scale: float = 0.5) -> None:
    """Text on a filled dark box, so it stays readable over any background."""
    (w, h), base = cv2.getTextSize(text, FONT, scale, 1)
    x = max(0, min(origin[0], image.shape[1] - w - 3))  # kept inside the picture
    y = max(h + base, origin[1])
    cv2.rectangle(image, (x, y - h - base), (x + w + 2, y + 1), (0, 0, 0), cv2.FILLED)
    cv2.putText(image, text, (x + 1, y - base + 1), FONT, scale, colour, 1, cv2.LINE_AA)


def draw_zones(image: np.ndarray, zones: Iterable[Zone]) -> None:
    """Each zone's outline in its kind's colour, labelled with its id at its first corner."""
    for zone in zones:
        pts = np.round(zone.polygon).astype(np.int32).reshape(-1, 1, 2)
        cv2.polylines(image, [pts], isClosed=True, color=zone_colour(zone.kind), thickness=2)
        x, y = (int(v) for v in pts[0, 0])
        put_label(image, f"{zone.id} ({zone.kind})", (x + 4, y + 18), zone_colour(zone.kind))


def _box_label(dets: Detections, i: int) -> str:
    name = dets.names[i]
    tid = None if dets.tracker_id is None else int(dets.tracker_id[i])
    return f"{name} #{tid}" if tid is not None and tid >= 0 else name


def draw_detections(image: np.ndarray, dets: Detections) -> None:
    """Every box with its class and, once confirmed, its track id."""
    for i, box in enumerate(dets.xyxy):
        x1, y1, x2, y2 = (int(round(float(v))) for v in box)
        colour = PERSON_COLOUR if dets.names[i] == "person" else VEHICLE_COLOUR
        cv2.rectangle(image, (x1, y1), (x2, y2), colour, 1)
        put_label(image, _box_label(dets, i), (x1, y1 - 2), colour, 0.4)


def draw_alert_boxes(image: np.ndarray, boxes: np.ndarray) -> None:
    for box in np.asarray(boxes).reshape(-1, 4):
        x1, y1, x2, y2 = (int(round(float(v))) for v in box)
        cv2.rectangle(image, (x1, y1), (x2, y2), ALERT_COLOUR, 3)


def draw_texts(image: np.ndarray, lines: Sequence[str]) -> None:
    """Alert lines stacked at the bottom left, newest last."""
    h = image.shape[0]
    for k, line in enumerate(reversed(lines)):
        put_label(image, line, (4, h - 6 - 20 * k), ALERT_COLOUR, 0.55)


def annotate(
    image: np.ndarray, detections: Detections, zones: Iterable[Zone],
    alert_boxes: np.ndarray | None = None, lines: Sequence[str] = (),
) -> np.ndarray:
    """A copy of ``image`` with zones, boxes, alert boxes and alert text drawn; the input stays clean."""
    out = image.copy()
    draw_zones(out, zones)
    draw_detections(out, detections)
    if alert_boxes is not None:
        draw_alert_boxes(out, alert_boxes)
    draw_texts(out, lines)
    return out


def safe_name(text: str) -> str:
    """A camera or alert id as one path component (no separators or dot-dot)."""
    return re.sub(r"[^A-Za-z0-9._-]", "_", text).strip(".") or "_"


def snapshot_key(camera_id: str, alert_id: str) -> str:
    """``CAMERA/ALERT_ID.jpg``: the file name under a snapshot folder, and the ``snapshot`` attribute."""
    return f"{safe_name(camera_id)}/{safe_name(alert_id)}.jpg"


def capped_jpeg(picture: np.ndarray, max_bytes: int, quality: int = JPEG_QUALITY) -> bytes:
    """JPEG of ``picture`` no larger than ``max_bytes``: lower quality first (down to 40), then half
    the size, so one snapshot always fits one Kafka message (1 MB by default).

    >>> len(capped_jpeg(np.zeros((48, 64, 3), np.uint8), 2000)) <= 2000
    True
    """
    image = picture
    while True:
        for q in range(quality, 39, -15):
            ok, buf = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, q])
            if not ok:
                raise ValueError(f"cannot encode a {image.shape} picture as JPEG")
            if buf.size <= max_bytes:
                return buf.tobytes()
        h, w = image.shape[:2]
        if min(h, w) < 16:
            raise ValueError(f"cannot fit the picture into {max_bytes} bytes")
        image = cv2.resize(image, (w // 2, h // 2), interpolation=cv2.INTER_AREA)


def snapshot_jpeg(
    image: np.ndarray, detections: Detections, zones: Iterable[Zone], alert_boxes: np.ndarray | None,
    text: str, max_bytes: int,
) -> bytes:
    """The evidence picture (zones, boxes, alert text) as JPEG bytes of at most ``max_bytes``."""
    return capped_jpeg(annotate(image, detections, zones, alert_boxes, [text]), max_bytes)


def write_snapshot(
    snapshot_dir: Path, camera_id: str, alert_id: str, image: np.ndarray, detections: Detections,
    zones: Iterable[Zone], alert_boxes: np.ndarray | None, text: str,
) -> str:
    """Draw and save ``CAMERA/ALERT_ID.jpg`` under ``snapshot_dir``; return that relative path
    (what goes into the alert, so the folder can move or be served from anywhere)."""
    relative = Path(snapshot_key(camera_id, alert_id))
    path = snapshot_dir / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    picture = annotate(image, detections, zones, alert_boxes, [text])
    if not cv2.imwrite(str(path), picture, [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY]):
        raise OSError(f"could not write snapshot {path}")
    return relative.as_posix()
