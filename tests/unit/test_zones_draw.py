"""`gridwatch zones draw` (edge/zonegrid.py): grid every 50 px and the camera's zones on the first frame."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from edge.snapshots import zone_colour
from gridwatch.cli import main

CAMERA_YAML = """\
id: cam-1
source: frame.png
lat: 37.86
lon: 112.55
zones:
  - id: bay
    kind: no_parking
    polygon: [[200, 60], [280, 60], [280, 140], [200, 140]]
"""


def test_grid_and_zone_drawn_on_the_first_frame(tmp_path: Path) -> None:
    cv2.imwrite(str(tmp_path / "frame.png"), np.zeros((240, 320, 3), np.uint8))
    (tmp_path / "cam.yaml").write_text(CAMERA_YAML)
    out = tmp_path / "zones.png"
    assert main(["zones", "draw", "--camera", str(tmp_path / "cam.yaml"), "--output", str(out)]) == 0
    image = cv2.imread(str(out))
    assert image.shape == (240, 320, 3)
    assert image[200, 150].min() > 60 and image[200, 100].min() > 60  # grid lines at x=150, y=200
    assert not image[175, 125].any()  # between grid lines: the frame's own black
    assert np.abs(image[100, 280].astype(int) - zone_colour("no_parking")).max() <= 10  # bay's right edge


def test_video_source_without_camera(tmp_path: Path) -> None:
    video = tmp_path / "clip.avi"
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"MJPG"), 5, (160, 120))
    for _ in range(3):
        writer.write(np.full((120, 160, 3), 30, np.uint8))
    writer.release()
    out = tmp_path / "grid.png"
    assert main(["zones", "draw", "--source", str(video), "--output", str(out)]) == 0
    assert cv2.imread(str(out)).shape == (120, 160, 3)


def test_unreadable_source_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["zones", "draw", "--source", str(tmp_path / "none.png"), "--output", str(tmp_path / "o.png")]) == 2
    assert "cannot read a frame" in capsys.readouterr().err
