"""``gridwatch detect``: one camera's detectors over a video file or stream, alerts to JSON lines.

No Kafka, no threads: an installer tunes zones and thresholds on recorded footage, and a test
checks the alerts, with exactly the code the edge agent runs. For a file, time is the file's own
(frame index / fps) laid onto ``--start``, so the same file gives the same alerts and the same
ids on every run and machine; a live stream is stamped with the wall clock.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import IO

import cv2
import numpy as np

from detectors.config import CameraDetectorsConfig
from detectors.pipeline import CameraDetectors, FrameResult, zone_rules_from_config
from detectors.types import AlertDecision, TimedFrame
from detectors.zones import Zone
from edge.alerts import EPOCH, AlertIds, to_alert, video_time
from edge.capture import is_network_source, resolve_source
from edge.config import CameraConfig
from edge.snapshots import annotate, write_snapshot
from gridwatch.contracts import Alert

DEFAULT_FILE_FPS = 25.0
# The rule's headline number, shown on snapshots and the annotated video.
HEADLINE = {"crowd": ("count", "people"), "parking": ("dwell_s", "s parked"), "fire": ("area_ratio", "of frame")}


class DetectError(Exception):
    """The source cannot be read (or options contradict it); the CLI prints it and exits 2."""


@dataclass(frozen=True)
class DetectOptions:
    source: str
    output: Path
    site_id: str = "local"
    start: datetime | None = None
    every_s: float | None = None
    annotate: Path | None = None
    snapshots: Path | None = None


LocalTime = Callable[[datetime], datetime]  # a frame's time on the clock of the zones' time-of-day limits


@dataclass
class DetectSummary:
    frames_read: int = 0
    frames_processed: int = 0
    frames_detected: int = 0
    alerts: int = 0
    wall_s: float = 0.0

    def __str__(self) -> str:
        fps = self.frames_processed / self.wall_s if self.wall_s > 0 else 0.0
        return (f"{self.alerts} alerts from {self.frames_processed} of {self.frames_read} frames "
                f"({self.frames_detected} detected, the rest motion-gated) in {self.wall_s:.1f} s, {fps:.1f} fps")


def source_for(camera: CameraConfig, camera_path: Path, source: str | None) -> str:
    """``--source`` as given (relative to the working folder), else the camera's own source
    (relative to the camera file, as in site files)."""
    if source:
        return source if is_network_source(source) else str(Path(source).expanduser().resolve())
    return resolve_source(camera.source, camera_path.resolve().parent)


def detectors_config(camera: CameraConfig, every_s: float | None) -> tuple[CameraDetectorsConfig, float]:
    """The camera's detector settings fed at one frame per ``every_s`` (default: its frame_rate);
    the tracker must be told the rate it is really fed, or it loses fast walkers."""
    config = camera.detectors or CameraDetectorsConfig()
    every = every_s if every_s else 1.0 / config.frame_rate
    return config.model_copy(update={"frame_rate": 1.0 / every}), every


def open_capture(source: str) -> cv2.VideoCapture:
    capture = cv2.VideoCapture(source)
    if not capture.isOpened():
        raise DetectError(f"cannot open video source {source}")
    return capture


def file_frames(capture: cv2.VideoCapture, every_s: float, start: datetime, summary: DetectSummary,
                local: LocalTime
                ) -> Iterator[tuple[TimedFrame, datetime]]:
    """Every frame at or past the next sampling instant, timed by index / fps (not by the CPU)."""
    fps = capture.get(cv2.CAP_PROP_FPS)
    fps = fps if 0 < fps <= 240 else DEFAULT_FILE_FPS
    index, next_t = 0, 0.0
    while capture.grab():
        t = index / fps
        index += 1
        summary.frames_read += 1
        if t + 1e-6 < next_t:
            continue
        ok, image = capture.retrieve()
        if not ok:
            break
        next_t += every_s * max(1, int((t - next_t + 1e-6) // every_s) + 1)
        at = video_time(start, t)
        yield TimedFrame(image, t, wall=local(at)), at


def live_frames(capture: cv2.VideoCapture, every_s: float, summary: DetectSummary, local: LocalTime
                ) -> Iterator[tuple[TimedFrame, datetime]]:
    """A stream's newest frames, one per ``every_s`` of wall time, stamped with the wall clock."""
    t0, next_t = time.monotonic(), 0.0
    while True:
        ok, image = capture.read()
        if not ok:
            return
        summary.frames_read += 1
        t = time.monotonic() - t0
        if t < next_t:
            continue
        next_t = t + every_s
        now = datetime.now(timezone.utc)
        yield TimedFrame(image, t, wall=local(now)), now


def headline(decision: AlertDecision) -> str:
    key, unit = HEADLINE.get(decision.category, ("", ""))
    value = decision.attributes.get(key)
    figure = f": {value} {unit}" if value is not None else ""
    return f"{decision.type} {decision.zone_id or 'frame'} {decision.phase}{figure}"


@dataclass
class AlertOverlay:
    """Alerts open right now (start/update seen, end not yet), for the annotated video.

    Their text stays on screen while they are open; their boxes only on the frame they fired on,
    since a crowd's boxes from ten seconds ago mark people who have walked on."""

    open: dict[str, AlertDecision] = field(default_factory=dict)

    def update(self, decisions: list[AlertDecision]) -> None:
        for d in decisions:
            if d.phase == "end":
                self.open.pop(d.episode, None)
            else:
                self.open[d.episode] = d

    def lines(self) -> list[str]:
        return [headline(d) for d in self.open.values()]


def fired_boxes(result: FrameResult) -> np.ndarray:
    parts = [d.boxes.reshape(-1, 4) for d in result.decisions]
    return np.concatenate(parts) if parts else np.zeros((0, 4), np.float32)


@dataclass
class VideoSink:
    """An mp4v writer opened on the first frame (its size is not known before)."""

    path: Path
    fps: float
    _writer: cv2.VideoWriter | None = None

    def write(self, image: np.ndarray) -> None:
        if self._writer is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            h, w = image.shape[:2]
            self._writer = cv2.VideoWriter(str(self.path), cv2.VideoWriter_fourcc(*"mp4v"), self.fps, (w, h))
            if not self._writer.isOpened():
                raise DetectError(f"cannot write video {self.path}")
        self._writer.write(image)

    def close(self) -> None:
        if self._writer is not None:
            self._writer.release()


@dataclass
class AlertWriter:
    """Decisions to contract Alerts on one line each, with a snapshot when asked for."""

    camera: CameraConfig
    site_id: str
    out: IO[str]
    zones: list[Zone]
    snapshots: Path | None = None
    ids: AlertIds = field(init=False)

    def __post_init__(self) -> None:
        self.ids = AlertIds(self.camera.id)

    def write(self, frame: TimedFrame, observed_at: datetime, result: FrameResult) -> list[Alert]:
        alerts = []
        for decision in result.decisions:
            alert_id = self.ids.next_id(decision, observed_at)
            snapshot = None
            if self.snapshots is not None:
                snapshot = write_snapshot(self.snapshots, self.camera.id, alert_id, frame.image, result.detections,
                                          self.zones, decision.boxes, headline(decision))
            alert = to_alert(decision, self.camera, self.site_id, observed_at, alert_id, snapshot)
            self.out.write(alert.to_json().decode() + "\n")
            alerts.append(alert)
        return alerts


def run_detect(camera: CameraConfig, options: DetectOptions) -> DetectSummary:
    """Run the camera's detectors over ``options.source``; return counts and timing."""
    live = is_network_source(options.source)
    if live and options.start is not None:
        raise DetectError("--start applies to video files; a live stream is stamped with the wall clock")
    config, every_s = detectors_config(camera, options.every_s)
    rules = zone_rules_from_config(camera.zones)
    pipeline = CameraDetectors.build(config, rules)
    summary, began = DetectSummary(), time.perf_counter()
    capture = open_capture(options.source)
    if not live and options.start is None and camera.has_schedules():
        print("gridwatch detect: the camera's time-of-day limits apply to the video's own clock from "
              f"{EPOCH:%Y-%m-%d %H:%M} UTC; pass --start with the time it was recorded", file=sys.stderr)
    frames = (live_frames(capture, every_s, summary, camera.local_time) if live
              else file_frames(capture, every_s, options.start or EPOCH, summary, camera.local_time))
    with ExitStack() as stack:
        stack.callback(capture.release)
        options.output.parent.mkdir(parents=True, exist_ok=True)
        out = stack.enter_context(options.output.open("w", encoding="utf-8"))
        writer = AlertWriter(camera, options.site_id, out, [r.zone for r in rules], options.snapshots)
        sink = VideoSink(options.annotate, 1.0 / every_s) if options.annotate else None
        if sink is not None:
            stack.callback(sink.close)
        overlay = AlertOverlay()
        for frame, observed_at in frames:
            result = pipeline.process(frame)
            summary.alerts += len(writer.write(frame, observed_at, result))
            overlay.update(result.decisions)
            if sink is not None:
                sink.write(annotate(frame.image, result.detections, writer.zones, fired_boxes(result), overlay.lines()))
            if live:
                out.flush()  # someone may be tailing the file
    summary.frames_processed, summary.frames_detected = pipeline.stats.frames, pipeline.stats.detected
    summary.wall_s = time.perf_counter() - began
    return summary


def print_summary(summary: DetectSummary, options: DetectOptions) -> None:
    print(f"gridwatch detect: {summary}; alerts in {options.output}", file=sys.stderr)
