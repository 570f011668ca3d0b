"""bench/train_persons.py's training sets: one ``person`` class from both of the source's classes,
the tune half only by default, and no frame of a held-out camera."""

from __future__ import annotations

import pytest

from bench.media import MEDIA, camera_of, items
from bench.train_persons import PERSON_CLASS, person_boxes, training_set

pytestmark = pytest.mark.skipif(not (MEDIA / "crowd" / "labels.csv").is_file(), reason=f"{MEDIA} not here")


def test_every_labelled_person_becomes_one_person_box() -> None:
    boxes = person_boxes()
    for item in items("crowd"):
        found = boxes[item.row["file"]]
        assert len(found) == int(item.row["count"]), item.row["file"]  # subjects and staff alike
        assert {c for c, *_ in found} == {PERSON_CLASS}


def test_default_set_is_the_tune_half() -> None:
    rows = training_set(None)
    assert rows and all(item.half == "tune" for item, _ in rows)
    assert len(rows) == sum(i.half == "tune" for i in items("crowd"))
    assert {camera_of(item) for item, _ in rows} == {"1", "2", "3"}


def test_held_out_camera_contributes_no_frame_and_the_others_all_theirs() -> None:
    rows = training_set("3")
    cameras = [camera_of(item) for item, _ in rows]
    assert "3" not in cameras
    assert len(rows) == sum(camera_of(i) != "3" for i in items("crowd"))
    assert {item.half for item, _ in rows} == {"tune", "test"}
