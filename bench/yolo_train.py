"""What the site-training scripts share: an ultralytics dataset written from labelled media, and
the CPU training run (bench/train_fire.py, bench/train_persons.py).

Weights are written outside the repository (never committed), to OUT/run/weights/last.pt.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import yaml

from bench.media import Item
from detectors.backends.ultralytics_yolo import load_yolo
from detectors.models import sha256_of

Box = tuple[int, float, float, float, float]  # class, x centre, y centre, width, height (0-1)


def write_dataset(rows: list[tuple[Item, list[Box]]], root: Path, names: dict[int, str]) -> Path:
    """An ultralytics dataset of symlinked images and label files (empty for backgrounds); returns its data.yaml."""
    images, labels = root / "images" / "train", root / "labels" / "train"
    for d in (images, labels):
        d.mkdir(parents=True, exist_ok=True)
        for old in d.iterdir():
            old.unlink()
    for item, boxes in rows:
        stem = f"{item.folder}__{item.row['file'].replace('/', '__')}"
        (images / stem).symlink_to(item.path)
        lines = [f"{c} {x:.6f} {y:.6f} {w:.6f} {h:.6f}" for c, x, y, w, h in boxes]
        (labels / Path(stem).with_suffix(".txt").name).write_text("\n".join(lines) + ("\n" if lines else ""))
    data = root / "data.yaml"
    data.write_text(yaml.safe_dump({"path": str(root), "train": "images/train", "val": "images/train", "names": names}))
    return data


def add_training_args(ap: argparse.ArgumentParser, out: Path, epochs: int, note: str) -> None:
    ap.add_argument("--out", type=Path, default=out, help="where the dataset and weights go (outside the repo)")
    ap.add_argument("--epochs", type=int, default=epochs, help=note)
    ap.add_argument("--freeze", type=int, default=10, help="leading layers kept as trained (10: the backbone)")
    ap.add_argument("--imgsz", type=int, default=640)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--warmup-epochs", type=float, default=3.0,
                    help="ultralytics warms up over max(this x steps per epoch, 100) steps; 0: none")


def summary(rows: list[tuple[Item, list[Box]]]) -> str:
    n_boxes = sum(len(b) for _, b in rows)
    return (f"{len(rows)} images ({sum(bool(b) for _, b in rows)} with {n_boxes} boxes, "
            f"{sum(not b for _, b in rows)} backgrounds)")


def train(base: Path, data: Path, args: argparse.Namespace) -> Path:
    """Fine-tune ``base`` on the CPU, offline as the camera's backend loads it; returns the last weights."""
    out = args.out.expanduser()
    start = time.monotonic()
    load_yolo(str(base)).train(
        data=str(data), epochs=args.epochs, imgsz=args.imgsz, batch=args.batch, freeze=args.freeze,
        warmup_epochs=args.warmup_epochs,
        device="cpu", workers=2, seed=args.seed, deterministic=True, plots=False, val=False, amp=False,
        project=str(out), name="run", exist_ok=True, verbose=False,
    )
    weights = out / "run" / "weights" / "last.pt"
    print(f"trained {args.epochs} epochs in {time.monotonic() - start:.0f} s: {weights} sha256 {sha256_of(weights)}")
    return weights
