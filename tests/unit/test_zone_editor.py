"""`gridwatch zones edit` (edge/zone_editor.py): the page's API checks drawn zones as the edge would
and writes a drop-in camera file only when they are right."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import cv2
import httpx
import numpy as np
import pytest
from fastapi.testclient import TestClient

from edge.config import CameraConfig
from edge.zone_editor import editor_app, load_session
from gridwatch.configfile import load_yaml_model
from gridwatch.servers.ports import free_port
from tests.npm_cache import npm_folder

CAMERA_YAML = """\
id: cam-1
source: ../media/frame.png   # relative to this file
lat: 37.86
lon: 112.55
zones:
  - id: bay
    kind: no_parking
    polygon: [[200, 60], [280, 60], [280, 140], [200, 140]]
    lat: 37.8601
    lon: 112.5502
    parking:
      limit_s: 120
  - id: old
    kind: gate
    polygon: [[0, 0], [50, 0], [50, 50]]
"""
PAGES = Path(__file__).parent / "pages"
LANE = {"id": "lane", "kind": "fire_lane", "polygon": [[10, 200], [300, 200], [300, 230], [10, 230]]}


@pytest.fixture
def camera(tmp_path: Path) -> Path:
    (tmp_path / "media").mkdir()
    cv2.imwrite(str(tmp_path / "media" / "frame.png"), np.full((240, 320, 3), 90, np.uint8))
    path = tmp_path / "site" / "cam.yaml"
    path.parent.mkdir()
    path.write_text(CAMERA_YAML)
    return path


def client(camera: Path | None, output: Path) -> TestClient:
    return TestClient(editor_app(load_session(np.full((240, 320, 3), 90, np.uint8), output, camera)))


def test_the_page_picture_and_current_zones_are_served(camera: Path, tmp_path: Path) -> None:
    c = client(camera, tmp_path / "out.yaml")
    assert "<canvas" in c.get("/").text
    picture = cv2.imdecode(np.frombuffer(c.get("/frame.jpg").content, np.uint8), cv2.IMREAD_COLOR)
    assert picture.shape == (240, 320, 3)
    state = c.get("/zones").json()
    assert (state["width"], state["height"], state["camera"]) == (320, 240, "cam-1")
    assert [z["id"] for z in state["zones"]] == ["bay", "old"]


def test_saved_zones_make_a_camera_file_that_loads_and_keeps_each_kept_zones_settings(camera: Path, tmp_path: Path) -> None:
    out = tmp_path / "elsewhere" / "cam-edited.yaml"
    moved_bay = {"id": "bay", "kind": "no_parking", "polygon": [[190.4, 50], [290, 50], [290, 150], [190, 150]]}
    reply = client(camera, out).put("/zones", json=[moved_bay, LANE])
    assert reply.status_code == 200 and reply.json()["written"] == str(out)
    edited = load_yaml_model(out, CameraConfig)
    assert [z.id for z in edited.zones] == ["bay", "lane"]  # "old" deleted, "lane" added
    bay = edited.zones[0]
    assert bay.polygon == [(190, 50), (290, 50), (290, 150), (190, 150)]  # whole pixels
    assert bay.parking is not None and bay.parking.limit_s == 120 and bay.lat == 37.8601  # kept from the file
    assert (out.parent / edited.source).resolve() == (tmp_path / "media" / "frame.png").resolve()


@pytest.mark.parametrize(("zones", "problem"), [
    ([{**LANE, "polygon": [[10, 200], [300, 200]]}], "zone lane: polygon: List should have at least 3 items"),
    ([{**LANE, "polygon": [[10, 200], [400, 200], [300, 230]]}], "zone lane: point (400, 200) is outside the 320x240 picture"),
    ([{**LANE, "kind": "carpark"}], "zone lane: kind: Input should be"),
    ([LANE, LANE], "zone ids must be unique; repeated: lane"),
])
def test_wrong_zones_are_explained_zone_by_zone_and_nothing_is_written(
        camera: Path, tmp_path: Path, zones: list[dict], problem: str) -> None:
    out = tmp_path / "out.yaml"
    out.write_text("before\n")
    reply = client(camera, out).put("/zones", json=zones)
    assert reply.status_code == 422
    assert any(problem in p for p in reply.json()["problems"]), reply.json()["problems"]
    assert out.read_text() == "before\n"


def test_without_a_camera_it_writes_a_bare_zones_list(tmp_path: Path) -> None:
    out = tmp_path / "zones.yaml"
    c = client(None, out)
    assert c.get("/zones").json()["zones"] == []
    assert c.put("/zones", json=[LANE, {**LANE, "id": "lane"}]).json()["problems"] == [
        "zone lane: id used twice; zone ids must be unique"]
    assert c.put("/zones", json=[LANE]).status_code == 200
    assert out.read_text() == "zones:\n- id: lane\n  kind: fire_lane\n  polygon: [[10, 200], [300, 200], [300, 230], [10, 230]]\n"


def test_an_installers_session_on_the_page(tmp_path: Path) -> None:
    """The page's own script in jsdom (tests/unit/pages/zone_editor_session.cjs): a dragged point
    moves and adds no point, clicks become picture pixels, a zone needs 3 points, save sends the zones."""
    folder = npm_folder("page-tests", PAGES, "the zone editor page test (jsdom runs on Node)",
                        scripts=("zone_editor_session.cjs",))
    page = Path(__file__).resolve().parents[2] / "edge" / "zone_editor.html"
    run = subprocess.run(["node", "zone_editor_session.cjs", str(page)], cwd=folder, capture_output=True,
                         text=True, timeout=60, check=False)
    assert run.returncode == 0, run.stderr
    session = json.loads(run.stdout)
    assert session["canvas"] == [320, 240] and session["listed_at_start"][0].startswith("bay (no_parking, 3 points)")
    assert session["points_after_drag"] == 0 and session["alerts"] == ["A zone needs at least 3 points."]
    assert [z.split(" (")[0] for z in session["listed_after_finish"]] == ["bay", "lane"]
    put = [r for r in session["requests"] if r["method"] == "PUT"]
    assert put == [{"method": "PUT", "url": "zones", "body": [
        {"id": "bay", "kind": "no_parking", "polygon": [[210, 70], [280, 60], [280, 140]]},
        {"id": "lane", "kind": "fire_lane", "polygon": [[10, 200], [300, 200], [300, 230]]}]}]
    assert session["problems_shown"] == ["zone lane: a problem"] and session["yaml_shown"] == "zones: []\n"


def test_the_command_serves_the_editor_until_stopped(camera: Path, tmp_path: Path) -> None:
    port, out = free_port(), tmp_path / "served.yaml"
    proc = subprocess.Popen([sys.executable, "-m", "gridwatch.cli", "zones", "edit", "--camera", str(camera),
                             "--output", str(out), "--port", str(port)], stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                state = httpx.get(f"http://127.0.0.1:{port}/zones", timeout=1).json()
                break
            except httpx.TransportError:
                assert proc.poll() is None and time.monotonic() < deadline, proc.stderr.read() if proc.stderr else ""
                time.sleep(0.2)
        assert state["output"] == str(out) and len(state["zones"]) == 2
        assert httpx.put(f"http://127.0.0.1:{port}/zones", json=[LANE]).status_code == 200
        assert [z.id for z in load_yaml_model(out, CameraConfig).zones] == ["lane"]
    finally:
        proc.terminate()
        proc.wait(timeout=10)
