"""The labelled images in ../shared/media for detector evaluation: rows, a fixed tune/test split,
and a cache of raw model outputs so that thresholds can be searched without re-running models.

The split (documented in models/cards): within each folder, files are grouped by their source
clip (CCTV frames named ``<clip>_mp4-<n>_jpg...`` are 4 frames of one video, which must not sit in
both halves), the groups are sorted by name and alternate: even positions tune, odd ones test.
Each other file is its own group. Crowd frames are grouped per file (3 cameras only, so a per
camera split would leave one camera's scene out of a half); neighbouring frames of one camera are
alike, so the crowd test half is less independent than the fire one.
"""

from __future__ import annotations

import csv
import hashlib
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Literal

import numpy as np

from detectors.types import Detections

REPO = Path(__file__).resolve().parents[1]
MEDIA = REPO.parent / "shared" / "media"
VTEST = MEDIA / "video" / "vtest.avi"  # campus pedestrians, a van and a car parked throughout
CACHE = REPO / ".cache" / "eval_detectors"
Half = Literal["tune", "test"]
CLIP = re.compile(r"^(?P<clip>.+)_mp4-\d+_jpg")


@dataclass(frozen=True, eq=False)  # hashed by identity: a row is a dict
class Item:
    folder: str
    row: dict[str, str]
    half: Half

    @property
    def path(self) -> Path:
        return MEDIA / self.folder / self.row["file"]


def group_of(file: str) -> str:
    """The source clip a frame belongs to, else the file itself."""
    name = Path(file).name
    m = CLIP.match(name)
    return str(Path(file).parent / m.group("clip")) if m else file


def items(folder: str, images_only: bool = True) -> list[Item]:
    """The folder's labels.csv rows with their half of the split (sorted by file name)."""
    with (MEDIA / folder / "labels.csv").open() as f:
        rows = sorted(csv.DictReader(f), key=lambda r: r["file"])
    if images_only:
        rows = [r for r in rows if Path(r["file"]).suffix.lower() in {".jpg", ".jpeg", ".png"}]
    groups = sorted({group_of(r["file"]) for r in rows})
    half: dict[str, Half] = {g: ("tune" if i % 2 == 0 else "test") for i, g in enumerate(groups)}
    return [Item(folder, r, half[group_of(r["file"])]) for r in rows]


YoloBox = tuple[str, float, float, float, float]  # source class name, x centre, y centre, width, height (0-1)


def yolo_boxes(csv_path: Path) -> dict[str, list[YoloBox]]:
    """A ``*_boxes_yolo.csv`` (the source's own YOLO label lines) by file, relative to its folder."""
    boxes: dict[str, list[YoloBox]] = {}
    with csv_path.open() as f:
        for r in csv.DictReader(f):
            x, y, w, h = (float(r[k]) for k in ("x_center", "y_center", "width", "height"))
            boxes.setdefault(r["file"], []).append((r["class_name"], x, y, w, h))
    return boxes


def camera_of(item: Item) -> str:
    """The camera a crowd frame comes from: its name's first field (``cctv_waiting_room/3-12-_jpg...`` is 3)."""
    return Path(item.row["file"]).name.split("-")[0]


def select(all_items: list[Item], which: str) -> list[Item]:
    """``which``: tune, test or all."""
    return all_items if which == "all" else [i for i in all_items if i.half == which]


def cached(key: str, item: Item, infer: Callable[[], Detections], labels: tuple[str, ...]) -> Detections:
    """Raw detections of one model setting on one image, from .cache/ when present."""
    digest = hashlib.sha1(f"{key}|{item.folder}/{item.row['file']}".encode()).hexdigest()[:20]
    path = CACHE / key / f"{digest}.npz"
    if path.is_file():
        z = np.load(path)
        return Detections.from_arrays(z["xyxy"], z["confidence"], z["class_id"], labels)
    dets = infer()
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez(path, xyxy=dets.xyxy, confidence=dets.confidence, class_id=dets.class_id)
    return dets
