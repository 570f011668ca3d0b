"""``gridwatch zones edit``: draw a camera's zones with the mouse on its own picture, in a browser.

An installer at a compound has a laptop or phone and the edge box's address, rarely a desktop on the
box itself, so the editor is a small local web page (served by the box, ``--host`` to reach it from
the laptop) rather than an OpenCV window. The page shows the camera's first frame and the zones
already configured; clicks add polygon points in the frame's own pixels. Saving sends the zones
here, where they are checked as the edge checks them at start (``ZoneConfig`` and the whole
``CameraConfig``, plus every point inside the picture) and written to ``--output`` only when all are
right; otherwise the page lists what is wrong, zone by zone, and nothing is written.

What is kept: a zone saved under the id of one already in the camera file keeps its other settings
(map position, crowd and parking rules); only its kind and polygon change. The rest of the camera
entry is written back as it was read (YAML comments are not kept), with a relative ``source`` made
relative to the output's folder, so the written file is a drop-in camera file.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import yaml
from fastapi import FastAPI
from fastapi.responses import HTMLResponse, JSONResponse, Response
from pydantic import BaseModel, ValidationError

from edge.capture import is_network_source
from edge.config import CameraConfig, ZoneConfig, repeated
from gridwatch.configfile import describe_errors


class Polygon(list):  # type: ignore[type-arg]
    """Points written on one line: ``polygon: [[200, 60], [280, 60], ...]``."""


class ZonesDumper(yaml.SafeDumper):
    """SafeDumper that writes a ``Polygon`` in flow style (a subclass: SafeDumper itself stays as it is)."""


ZonesDumper.add_representer(
    Polygon, lambda dumper, points: dumper.represent_sequence("tag:yaml.org,2002:seq", points, flow_style=True))


class DrawnZone(BaseModel):
    """What the page sends for one zone; checked further as a ``ZoneConfig``."""

    id: str
    kind: str
    polygon: list[tuple[float, float]]


class ZoneList(BaseModel):
    """A bare zones file (no camera given): every zone checked at once."""

    zones: list[ZoneConfig]


@dataclass
class ZoneEditSession:
    """One camera's picture, its file as read (or none), and where the edited zones go."""

    frame: np.ndarray
    output: Path
    camera_file: Path | None = None
    raw: dict[str, Any] | None = None  # the camera entry as read from camera_file

    @property
    def size(self) -> tuple[int, int]:
        return self.frame.shape[1], self.frame.shape[0]

    def zones(self) -> list[dict[str, Any]]:
        return list((self.raw or {}).get("zones") or [])

    def document(self, drawn: list[DrawnZone]) -> dict[str, Any]:
        """The file to write: the camera entry with its zones replaced (or a bare ``zones:`` list)."""
        kept = {z.get("id"): z for z in self.zones() if isinstance(z, dict)}
        zones = [{**kept.get(z.id, {}), "id": z.id, "kind": z.kind, "polygon": Polygon([round(x), round(y)] for x, y in z.polygon)}
                 for z in drawn]
        if self.raw is None:
            return {"zones": zones}
        document = {**self.raw, "zones": zones}
        source = document.get("source")
        if isinstance(source, str) and self.camera_file is not None:
            document["source"] = moved_source(source, self.camera_file.parent, self.output.parent)
        return document

    def problems(self, drawn: list[DrawnZone], document: dict[str, Any]) -> list[str]:
        """Everything wrong with the zones, each naming the zone; empty when they can be written."""
        width, height = self.size
        found = [f"zone {z.id or i + 1}: point ({x:.0f}, {y:.0f}) is outside the {width}x{height} picture"
                 for i, z in enumerate(drawn) for x, y in z.polygon
                 if not (0 <= x <= width and 0 <= y <= height)]
        if self.raw is None:  # a camera file's own check (CameraConfig) names repeated ids too
            found += [f"zone {i}: id used twice; zone ids must be unique" for i in repeated([z.id for z in drawn])]
        try:
            (ZoneList if self.raw is None else CameraConfig).model_validate(document)
        except ValidationError as exc:
            found += [named(line.removeprefix(f"{self.output}: "), drawn) for line in describe_errors(self.output, exc, {})]
        return found

    def save(self, drawn: list[DrawnZone]) -> tuple[list[str], str]:
        """Write the edited file when nothing is wrong; returns (problems, the YAML written or proposed)."""
        document = self.document(drawn)
        text = yaml.dump(document, Dumper=ZonesDumper, sort_keys=False, allow_unicode=True, default_flow_style=None)
        problems = self.problems(drawn, document)
        if not problems:
            self.output.parent.mkdir(parents=True, exist_ok=True)
            self.output.write_text(text, encoding="utf-8")
        return problems, text


def named(line: str, drawn: list[DrawnZone]) -> str:
    """A validation message with ``zones[N]`` told as the zone's id: ``zone gate: polygon: ...``."""
    def zone(match: re.Match[str]) -> str:
        i = int(match.group(1))
        return f"zone {drawn[i].id if i < len(drawn) else i + 1}" + (": " if match.group(2) else "")

    return re.sub(r"zones\[(\d+)\](\.)?", zone, line)


def moved_source(source: str, from_dir: Path, to_dir: Path) -> str:
    """A file source written relative to ``from_dir``, re-expressed relative to ``to_dir``."""
    if is_network_source(source) or Path(source).expanduser().is_absolute():
        return source
    return os.path.relpath((from_dir / source).resolve(), to_dir.resolve())


def load_session(frame: np.ndarray, output: Path, camera_file: Path | None) -> ZoneEditSession:
    """The session for ``camera_file`` (already validated by the caller) or for a bare picture."""
    raw = yaml.safe_load(camera_file.read_text(encoding="utf-8")) if camera_file else None
    return ZoneEditSession(frame=frame, output=output, camera_file=camera_file, raw=raw)


def editor_app(session: ZoneEditSession) -> FastAPI:
    app = FastAPI(title="GridWatch zone editor", docs_url=None, redoc_url=None)
    page = resources.files("edge").joinpath("zone_editor.html").read_text(encoding="utf-8")
    ok, jpeg = cv2.imencode(".jpg", session.frame, [cv2.IMWRITE_JPEG_QUALITY, 90])
    picture = jpeg.tobytes() if ok else b""

    @app.get("/", response_class=HTMLResponse)
    def index() -> str:
        return page

    @app.get("/frame.jpg")
    def frame() -> Response:
        return Response(picture, media_type="image/jpeg")

    @app.get("/zones")
    def zones() -> dict[str, Any]:
        width, height = session.size
        return {"width": width, "height": height, "output": str(session.output),
                "camera": (session.raw or {}).get("id"), "zones": session.zones()}

    @app.put("/zones")
    def save(drawn: list[DrawnZone]) -> JSONResponse:
        problems, text = session.save(drawn)
        if problems:
            return JSONResponse({"problems": problems, "yaml": text}, status_code=422)
        return JSONResponse({"written": str(session.output), "yaml": text})

    return app
