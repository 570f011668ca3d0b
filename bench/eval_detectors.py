"""Precision and recall of GridWatch's detectors on the labelled media in ../shared/media.

    .venv/bin/python bench/eval_detectors.py [--backend onnx_centernet|onnx_nanodet] [--skip-fire]

Per detector, at the thresholds the detectors ship with (FireVerifyConfig, CrowdZoneConfig and
ParkingZoneConfig defaults), and the issue's targets beside the figures:
- fire: an image is "fire" when the fire model gives a box that passes score and colour checks
  (``detectors.fire.verify_image``); positives fire/ (cair photos, CCTV fire and smoke frames),
  negatives nonfire/ (hard negatives: lamps, sunsets, red cars; CCTV scenes without fire). Stills
  have no time, so the flicker and persistence checks that run on video cannot help here.
- crowd: people counted by the COCO model (score >= the crowd rule's min_confidence) against each
  image's labelled count; the target is a count within 20 % of the label.
- parking: a PKLot space is "occupied" when a vehicle box's centre lies in the space's contour, or
  the contour's centre lies in a vehicle box; accuracy over all labelled spaces.
Also prints the mean inference time per frame of each model on this machine.
"""

from __future__ import annotations

import argparse
import csv
import sys
import time
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from detectors.backends import BackendConfig, CenterNetConfig, NanoDetConfig, UltralyticsConfig, build_backend  # noqa: E402
from detectors.backends.base import Backend  # noqa: E402
from detectors.crowd import CrowdZoneConfig  # noqa: E402
from detectors.fire import FireVerifyConfig, verify_image  # noqa: E402
from detectors.labels import PERSON, VEHICLES  # noqa: E402
from detectors.parking import ParkingZoneConfig, nms_any_class  # noqa: E402

MEDIA = REPO.parent / "shared" / "media"
TARGETS = {"fire_precision": 0.90, "fire_recall": 0.80, "crowd_within": 0.20, "parking_accuracy": 0.90}


@dataclass
class Timer:
    ms: list[float] = field(default_factory=list)

    def detect(self, backend: Backend, image: np.ndarray):  # noqa: ANN201
        t = time.perf_counter()
        out = backend.detect(image)
        self.ms.append((time.perf_counter() - t) * 1000)
        return out

    def summary(self) -> str:
        a = np.array(self.ms[1:] or self.ms)  # the first call warms up
        return f"{a.mean():.0f} ms/frame (median {np.median(a):.0f}, n={len(a)})"


def rows(folder: str) -> list[dict[str, str]]:
    with (MEDIA / folder / "labels.csv").open() as f:
        return list(csv.DictReader(f))


def verdict(ok: bool, miss: str) -> str:
    return "MET" if ok else f"MISSED ({miss})"


def at_least(name: str, value: float, target: float) -> str:
    """One figure against a ">= target" goal, saying by how much it is missed."""
    return f"  {name:<9} {value:.3f}  target >= {target:.2f}  {verdict(value >= target, f'by {target - value:.3f}')}"


def eval_fire(timer: Timer) -> None:
    model = build_backend(UltralyticsConfig(model="yolov8s-fire-smoke", confidence=0.2))
    cfg = FireVerifyConfig()
    tp = fp = fn = tn = 0
    for folder, positive in (("fire", True), ("nonfire", False)):
        for row in rows(folder):
            image = cv2.imread(str(MEDIA / folder / row["file"]))
            if image is None:
                continue  # the FURG video row
            hit = len(verify_image(image, timer.detect(model, image), cfg)) > 0
            tp, fp = tp + (hit and positive), fp + (hit and not positive)
            fn, tn = fn + (positive and not hit), tn + (not positive and not hit)
    p, r = tp / max(tp + fp, 1), tp / max(tp + fn, 1)
    print(f"\nfire/smoke (yolov8s-fire-smoke @640 + colour check; {tp + fn} positive, {fp + tn} negative images)")
    print(f"  tp {tp}  fp {fp}  fn {fn}  tn {tn}")
    print(at_least("precision", p, TARGETS["fire_precision"]))
    print(at_least("recall", r, TARGETS["fire_recall"]))
    print(f"  speed     {timer.summary()}")


# Chosen for high-resolution indoor CCTV (1920x1080, people seated 5-15 m away): the COCO model on
# a 2x2 grid of tiles plus the whole frame, and person boxes from 0.25 (set per zone in the site file).
CROWD_TILES, CROWD_MIN_CONFIDENCE = 2, 0.25
# An overview camera of a whole car park (1280x720, cars 40-120 px): 2x2 tiles as well.
PARKING_TILES = 2


def eval_crowd(backend: Backend, timer: Timer) -> None:
    min_conf = CrowdZoneConfig(min_confidence=CROWD_MIN_CONFIDENCE).min_confidence
    errors = []
    for row in rows("crowd"):
        image = cv2.imread(str(MEDIA / "crowd" / row["file"]))
        found = len(timer.detect(backend, image).of_classes(PERSON).above(min_conf))
        errors.append((found - int(row["count"])) / int(row["count"]))
    e = np.array(errors)
    within = float((np.abs(e) <= TARGETS["crowd_within"]).mean())
    print(f"\ncrowd: person counts on {len(e)} CCTV waiting-room images (8-22 people each), "
          f"score >= {min_conf}, tiles {backend.config.tiles}x{backend.config.tiles} + whole frame")
    print(f"  within 20 % of the label: {within:.3f} of images  (target: all; mean |error| {np.abs(e).mean():.3f},"
          f" mean signed error {e.mean():+.3f})  {verdict(within >= 0.999, f'{1 - within:.3f} of images outside')}")
    print(f"  speed     {timer.summary()}")


def spaces(xml_path: Path) -> list[tuple[bool, np.ndarray]]:
    out = []
    for space in ET.parse(xml_path).getroot().iter("space"):
        if space.get("occupied") is None:
            continue
        pts = np.array([[float(p.get("x")), float(p.get("y"))] for p in space.iter("point")], np.float32)
        out.append((space.get("occupied") == "1", pts))
    return out


def occupied(contour: np.ndarray, boxes: np.ndarray) -> bool:
    c = contour.reshape(-1, 1, 2)
    centre = contour.mean(axis=0)
    for x1, y1, x2, y2 in boxes:
        if cv2.pointPolygonTest(c, (float((x1 + x2) / 2), float((y1 + y2) / 2)), False) >= 0:
            return True
        if x1 <= centre[0] <= x2 and y1 <= centre[1] <= y2:
            return True
    return False


def eval_parking(backend: Backend, timer: Timer) -> None:
    min_conf = ParkingZoneConfig().min_confidence
    correct = total = tp = fp = fn = 0
    for row in rows("parking"):
        image = cv2.imread(str(MEDIA / "parking" / row["file"]))
        vehicles = nms_any_class(timer.detect(backend, image).of_classes(VEHICLES).above(min_conf), 0.6)
        for truth, contour in spaces(MEDIA / "parking" / row["annotation"]):
            pred = occupied(contour, vehicles.xyxy)
            correct, total = correct + (pred == truth), total + 1
            tp, fp, fn = tp + (pred and truth), fp + (pred and not truth), fn + (truth and not pred)
    acc = correct / max(total, 1)
    print(f"\nparking: vehicle presence per labelled PKLot space ({total} spaces in {len(rows('parking'))} frames), "
          f"vehicle score >= {min_conf}, tiles {backend.config.tiles}x{backend.config.tiles} + whole frame")
    print(at_least("accuracy", acc, TARGETS["parking_accuracy"]))
    print(f"  occupied: precision {tp / max(tp + fp, 1):.3f}  recall {tp / max(tp + fn, 1):.3f}")
    print(f"  speed     {timer.summary()}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--backend", choices=["onnx_centernet", "onnx_nanodet"], default="onnx_centernet")
    ap.add_argument("--skip-fire", action="store_true", help="skip the fire model (needs torch; ~0.5 s/image)")
    args = ap.parse_args()
    if not MEDIA.is_dir():
        sys.exit(f"{MEDIA} not found")
    config: BackendConfig = CenterNetConfig() if args.backend == "onnx_centernet" else NanoDetConfig()
    print(f"COCO backend: {args.backend} ({config.model}), threads={config.threads}")
    eval_crowd(build_backend(config.model_copy(update={"tiles": CROWD_TILES, "confidence": 0.2})), Timer())
    eval_parking(build_backend(config.model_copy(update={"tiles": PARKING_TILES})), Timer())
    if not args.skip_fire:
        eval_fire(Timer())


if __name__ == "__main__":
    main()
