"""`gridwatch detect` end to end on ../shared/media/video/vtest.avi with configs/cameras/vtest-sample.yaml.

No server: the CLI runs the detectors over the file at 1 fps (--every-s 1.0: two runs stay under
a minute on a busy 2-core machine) and writes alerts. Runs twice to check that a file gives the
same alert ids every time. Skips (with the reason) when the footage or model is not beside the repo.
"""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import pytest

from gridwatch.cli import main
from gridwatch.contracts import Alert

REPO = Path(__file__).resolve().parents[2]
VTEST = REPO.parent / "shared" / "media" / "video" / "vtest.avi"
CAMERA = REPO / "configs" / "cameras" / "vtest-sample.yaml"


def detect(out_dir: Path, *extra: str) -> tuple[int, list[Alert]]:
    output = out_dir / "alerts.jsonl"
    code = main(["detect", "--camera", str(CAMERA), "--source", str(VTEST), "--output", str(output),
                 "--every-s", "1.0", "--site-id", "campus", *extra])
    lines = output.read_text().splitlines() if output.exists() else []
    return code, [Alert.model_validate(json.loads(line)) for line in lines]


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[Alert], list[Alert]]:
    if not VTEST.is_file():
        pytest.skip(f"{VTEST} not found (tests read ../shared/media in place)")
    first_dir, second_dir = tmp_path_factory.mktemp("first"), tmp_path_factory.mktemp("second")
    code, first = detect(first_dir, "--annotate", str(first_dir / "out.mp4"),
                         "--snapshots", str(first_dir / "snaps"))
    if code == 0 and not first:
        pytest.fail("detect ran but wrote no alerts")
    code2, second = detect(second_dir)
    assert (code, code2) == (0, 0)
    return first_dir, first, second


def test_one_parking_start_for_the_van(runs: tuple[Path, list[Alert], list[Alert]]) -> None:
    _, alerts, _ = runs
    parking = [a for a in alerts if a.category == "parking"]
    starts = [a for a in parking if a.attributes["phase"] == "start"]
    assert len(starts) == 1, [a.attributes for a in parking]
    van = starts[0]
    assert van.type == "illegal_parking" and van.attributes["zone"] == "van-bay"
    assert (van.lat, van.lon) == (37.86151, 112.55352)  # the zone's position, not the camera's
    assert van.attributes["dwell_s"] >= 30 and van.attributes["track_id"].startswith("cam-vtest:")
    assert 29.0 <= (van.observed_at.timestamp()) <= 31.0  # default --start is the epoch


def test_crowd_alerts_on_the_walkway(runs: tuple[Path, list[Alert], list[Alert]]) -> None:
    _, alerts, _ = runs
    crowd = [a for a in alerts if a.category == "crowd"]
    assert [a.attributes["phase"] for a in crowd][:1] == ["start"] and len(crowd) >= 2
    assert all(a.type == "crowd_gathering" and a.attributes["count"] >= 3 for a in crowd)
    assert all(a.device_id == "cam-vtest" and a.site_id == "campus" for a in alerts)


def test_ids_are_unique_and_stable_across_runs(runs: tuple[Path, list[Alert], list[Alert]]) -> None:
    _, first, second = runs
    ids = [a.id for a in first]
    assert len(set(ids)) == len(ids)
    assert ids == [a.id for a in second]
    strip = lambda a: {k: v for k, v in a.attributes.items() if k != "snapshot"}  # noqa: E731
    assert [strip(a) for a in first] == [strip(a) for a in second]


def test_snapshots_and_annotated_video_are_readable(runs: tuple[Path, list[Alert], list[Alert]]) -> None:
    out_dir, alerts, second = runs
    for alert in alerts:
        image = cv2.imread(str(out_dir / "snaps" / alert.attributes["snapshot"]))
        assert image is not None and image.shape == (576, 768, 3)
    assert all("snapshot" not in a.attributes for a in second)  # only when asked for
    video = cv2.VideoCapture(str(out_dir / "out.mp4"))
    ok, frame = video.read()
    assert ok and frame.shape == (576, 768, 3)
    assert int(video.get(cv2.CAP_PROP_FRAME_COUNT)) == 80  # 79.5 s at 1 fps (t = 0 .. 79)
    video.release()


def test_bad_camera_file_names_line_and_field(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "cam.yaml"
    bad.write_text("id: c1\nsource: x.avi\nlat: 37.8\nlon: 112.5\nzones:\n  - id: z\n    kind: square\n"
                   "    polygon: [[0, 0], [1, 1]]\n")
    assert main(["detect", "--camera", str(bad), "--output", str(tmp_path / "a.jsonl")]) == 2
    assert f"{bad}:8: zones[0].polygon" in capsys.readouterr().err


def test_unreadable_source_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    missing = tmp_path / "missing.avi"
    code = main(["detect", "--camera", str(CAMERA), "--source", str(missing), "--output", str(tmp_path / "a.jsonl")])
    assert code == 2 and "cannot open video source" in capsys.readouterr().err
