"""Fine-tune a person detector for crowd counting on labelled frames of the site's own cameras, on the CPU.

    .venv/bin/python bench/train_persons.py [--epochs 40] [--out ~/.cache/gridwatch/persons-tuned]
    .venv/bin/python bench/eval_detectors.py --skip-fire --crowd-camera configs/cameras/waiting-room-site-trained-sample.yaml
    .venv/bin/python bench/train_persons.py --hold-out-camera 3 --out ~/.cache/gridwatch/persons-without-3

What it trains on: the person boxes of ../shared/media/crowd (CCTV frames of 3 waiting-room cameras;
both of the source's classes, subjects and staff, are whole persons) as one class, ``person``:
- by default the tune half only (the split of bench/media.py), so the test half stays unseen for
  bench/eval_detectors.py. Test frames are other moments of the same three cameras: that measures a
  site-trained model on its own cameras, which is what an installer who labels some frames gets;
- with ``--hold-out-camera N``, every frame of the other cameras and none of camera N: how the model
  does on a camera it never saw, the honest figure for "does it generalise".
No COCO YOLO weights can be had here (../shared/models/README.md), so the base is the shared YOLOv8s
fire/smoke checkpoint: its train_args say it was fine-tuned from COCO ``yolov8s.pt``, so its backbone
(kept frozen) started from COCO features; ultralytics replaces its 2-class head by a 1-class one.
Measured here, that model counts worse than the COCO CenterNet with tiles (models/cards/
persons-site-trained.md). An installer with ``yolov8n.pt`` or ``yolo11n.pt`` passes ``--base`` and
starts from a head that already knows people.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.media import MEDIA, Item, camera_of, items, select, yolo_boxes  # noqa: E402
from bench.yolo_train import Box, add_training_args, summary, train, write_dataset  # noqa: E402
from detectors.config import FireDetectorConfig  # noqa: E402
from detectors.models import resolve  # noqa: E402

PERSON_CLASS = 0
NAMES = {PERSON_CLASS: "person"}
DEFAULT_OUT = Path("~/.cache/gridwatch/persons-tuned").expanduser()


def person_boxes() -> dict[str, list[Box]]:
    """Every labelled person box by file (relative to crowd/), as class ``person``."""
    return {file: [(PERSON_CLASS, x, y, w, h) for _, x, y, w, h in found]
            for file, found in yolo_boxes(MEDIA / "crowd" / "cctv_waiting_room_boxes_yolo.csv").items()}


def training_set(hold_out_camera: str | None) -> list[tuple[Item, list[Box]]]:
    """The tune half, or with ``hold_out_camera`` every frame of the other cameras, with their boxes."""
    crowd = items("crowd")
    chosen = select(crowd, "tune") if hold_out_camera is None else [i for i in crowd if camera_of(i) != hold_out_camera]
    boxes = person_boxes()
    return [(i, boxes[i.row["file"]]) for i in chosen]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    add_training_args(ap, DEFAULT_OUT, 40, "40: the measured run")
    # 22 frames make 6 steps an epoch at batch 4: ultralytics' warm-up (at least 100 steps) would take
    # half the run: a first run of 30 epochs with it found 0.60 of the people on its own frames (>= 0.25).
    ap.set_defaults(batch=4, warmup_epochs=0.0)
    ap.add_argument("--hold-out-camera", help="train on every frame of the other cameras (1, 2 or 3) instead of the tune half")
    ap.add_argument("--base", default=FireDetectorConfig().backend.model,
                    help="weights to start from: a manifest name or a path (default: the shared fire/smoke YOLOv8s)")
    args = ap.parse_args()
    if args.hold_out_camera is not None and args.hold_out_camera not in {camera_of(i) for i in items("crowd")}:
        sys.exit(f"--hold-out-camera {args.hold_out_camera}: no crowd frame comes from that camera (1, 2 or 3)")
    rows = training_set(args.hold_out_camera)
    which = "tune half" if args.hold_out_camera is None else f"cameras other than {args.hold_out_camera}"
    print(f"{which}: {summary(rows)}")
    data = write_dataset(rows, args.out.expanduser() / "dataset", NAMES)
    train(resolve(args.base)[0], data, args)


if __name__ == "__main__":
    main()
