"""bench/train_fire.py's dataset: the source's boxes in the checkpoint's class indices (0 smoke,
1 fire, swapped against the source's names), the tune half only, and backgrounds with empty labels."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.media import MEDIA, items
from bench.train_fire import FIRE, NAMES, SMOKE, source_boxes
from bench.yolo_train import write_dataset

pytestmark = pytest.mark.skipif(not (MEDIA / "fire" / "labels.csv").is_file(), reason=f"{MEDIA} not here")


def test_source_boxes_take_the_checkpoints_class_indices() -> None:
    boxes = source_boxes()
    labels = {i.row["file"]: i.row["label"] for i in items("fire")}
    for file, found in boxes.items():
        classes = {c for c, *_ in found}
        named = set(labels[file].split("+"))
        assert classes == {({"fire": FIRE, "smoke": SMOKE})[n] for n in named}, file
        assert all(0 < w <= 1 and 0 < h <= 1 for _, _, _, w, h in found)
    # every CCTV frame has a box of its own (the source says so)
    assert {i.row["file"] for i in items("fire") if i.row["file"].startswith("cctv_fire/")} == set(boxes)


def test_write_dataset_links_images_and_writes_empty_labels_for_backgrounds(tmp_path: Path) -> None:
    positive = next(i for i in items("fire") if i.half == "tune" and i.row["file"].startswith("cctv_fire/"))
    negative = next(i for i in items("nonfire") if i.half == "tune")
    data = write_dataset([(positive, [(SMOKE, 0.5, 0.5, 0.2, 0.4)]), (negative, [])], tmp_path, NAMES)
    images = sorted((tmp_path / "images" / "train").iterdir())  # fire__... before nonfire__...
    assert [p.resolve() for p in images] == [positive.path.resolve(), negative.path.resolve()]
    label = {p.name: p.read_text() for p in (tmp_path / "labels" / "train").iterdir()}
    assert label[Path(images[0].name).with_suffix(".txt").name] == "0 0.500000 0.500000 0.200000 0.400000\n"
    assert label[Path(images[1].name).with_suffix(".txt").name] == ""
    assert "names:\n  0: smoke\n  1: fire\n" in data.read_text()
    write_dataset([(negative, [])], tmp_path, NAMES)  # a second run replaces the first's files
    assert len(list((tmp_path / "images" / "train").iterdir())) == 1
