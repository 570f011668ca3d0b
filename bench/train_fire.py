"""Fine-tune the fire/smoke model on the *tune* half of ../shared/media, on the CPU: a site-trained model.

    .venv/bin/python bench/train_fire.py [--epochs 12] [--freeze 10] [--out ~/.cache/gridwatch/fire-tuned]
    .venv/bin/python bench/tune_detectors.py --fire-model ~/.cache/gridwatch/fire-tuned/run/weights/last.pt
    .venv/bin/python bench/eval_detectors.py --fire-only --fire-camera configs/cameras/fire-site-trained-sample.yaml

What it trains on, the tune half only (the split of bench/media.py; the test half stays unseen for
bench/eval_detectors.py):
- the CCTV fire and smoke frames, with the source's own YOLO boxes (fire/cctv_fire_boxes_yolo.csv);
- the cair fire photos, which have no boxes of their own, boxed by the shipped model's own boxes that
  pass verification (pseudo-labels: without them the model would learn CCTV frames only and could
  forget the photos it already finds, 75 of 76);
- every tune-half negative (cair lamps, sunsets and red cars; CCTV frames of the same rooms without
  fire or smoke) as a background image with no boxes.
The classes stay the checkpoint's by index, named as they behave: 0 smoke, 1 fire
(models/cards/yolov8s-fire-smoke.md). Weights are written outside the repository (never committed),
to OUT/run/weights/last.pt, the path configs/cameras/fire-site-trained-sample.yaml names.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import cv2

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.eval_detectors import FIRE_RAW_CONFIDENCE, Detector  # noqa: E402
from bench.media import MEDIA, Item, items, select, yolo_boxes  # noqa: E402
from bench.yolo_train import Box, add_training_args, summary, train, write_dataset  # noqa: E402
from detectors.config import FireDetectorConfig  # noqa: E402
from detectors.fire import verify_image  # noqa: E402
from detectors.models import resolve  # noqa: E402

SMOKE, FIRE = 0, 1  # the checkpoint's class indices (its own names are swapped; see the model card)
SOURCE_CLASSES = {"Fire": FIRE, "smoke": SMOKE}  # cctv_fire_boxes_yolo.csv's class_name; "default" is no object
DEFAULT_OUT = Path("~/.cache/gridwatch/fire-tuned").expanduser()
NAMES = {SMOKE: "smoke", FIRE: "fire"}


def source_boxes() -> dict[str, list[Box]]:
    """The CCTV frames' own boxes by file (relative to fire/), in the checkpoint's class indices."""
    boxes = {file: [(SOURCE_CLASSES[name], x, y, w, h) for name, x, y, w, h in found if name in SOURCE_CLASSES]
             for file, found in yolo_boxes(MEDIA / "fire" / "cctv_fire_boxes_yolo.csv").items()}
    return {file: found for file, found in boxes.items() if found}


def pseudo_boxes(item: Item, shipped: Detector) -> list[Box]:
    """The shipped model's boxes on an image that passed verification, as YOLO boxes."""
    image = cv2.imread(str(item.path))
    found = verify_image(image, shipped.detect(item, lambda: image), FireDetectorConfig().verify)
    h, w = image.shape[:2]
    out: list[Box] = []
    for (x1, y1, x2, y2), name in zip(found.xyxy.tolist(), found.names):
        out.append((FIRE if name == "fire" else SMOKE, (x1 + x2) / 2 / w, (y1 + y2) / 2 / h, (x2 - x1) / w, (y2 - y1) / h))
    return out


def training_set() -> list[tuple[Item, list[Box]]]:
    """Every tune-half image with its boxes (empty for negatives); positives without any box are left out."""
    shipped = Detector("fire", FireDetectorConfig().backend.model_copy(update={"confidence": FIRE_RAW_CONFIDENCE}), fresh=False)
    own = source_boxes()
    rows: list[tuple[Item, list[Box]]] = []
    for item in select(items("fire") + items("nonfire"), "tune"):
        if item.folder == "nonfire":
            rows.append((item, []))
            continue
        boxes = own.get(item.row["file"]) or pseudo_boxes(item, shipped)
        if boxes:
            rows.append((item, boxes))
        else:
            print(f"  left out (no box of its own, none verified): {item.folder}/{item.row['file']}")
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    add_training_args(ap, DEFAULT_OUT, 12, "12: the measured run (3,119 s here)")
    args = ap.parse_args()
    rows = training_set()
    print(f"tune half: {summary(rows)}")
    data = write_dataset(rows, args.out.expanduser() / "dataset", NAMES)
    train(resolve(FireDetectorConfig().backend.model)[0], data, args)


if __name__ == "__main__":
    main()
