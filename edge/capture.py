"""Camera readers: one thread per camera, newest frame only, reconnect with capped backoff.

Every decoded frame marks the camera seen (liveness) and replaces the one before it in a
one-frame slot. The detection worker ``take()``s the newest frame, never a backlog, because a
stale frame is worse than a skipped one; a frame replaced before anyone took it is counted in
``gridwatch_edge_camera_frames_dropped_total`` (only when a consumer is attached: a camera without
detectors is read for liveness and faults alone). Memory stays at one frame per camera.

- Network sources (``rtsp://``, ``http(s)://`` MJPEG or HLS, anything FFmpeg opens) are read as
  fast as the camera sends, with OpenCV's open/read timeouts so a dead camera cannot hang the thread.
- A file (relative paths resolve against the site file's folder) stands in for a camera in
  development: it is read at its own frame rate, not as fast as the CPU allows, and loops.
- A source that fails to open or stops delivering is reopened after 1 s, 2 s, 4 s ... up to 30 s;
  the wait restarts from 1 s once frames flow again.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import cv2
import numpy as np
import structlog

from edge.config import CameraConfig
from edge.metrics import EdgeMetrics
from gridwatch.backoff import Backoff

log = structlog.get_logger(__name__)

FrameCallback = Callable[[str, datetime], None]
NETWORK_TIMEOUT_MS = 5000
DEFAULT_FILE_FPS = 25.0
MAX_LAG_S = 1.0  # a file reader this far behind its schedule restarts the schedule instead of racing


@dataclass(frozen=True)
class Frame:
    image: np.ndarray
    at: datetime
    index: int  # frames decoded by this reader so far


def is_network_source(source: str) -> bool:
    return "://" in source


def resolve_source(source: str, site_dir: Path) -> str:
    """A network URL as is; a file path made absolute against the site file's folder."""
    if is_network_source(source):
        return source
    path = Path(source).expanduser()
    return str(path if path.is_absolute() else (site_dir / path).resolve())


class CameraReader:
    """Reads one camera on a daemon thread and keeps its newest frame."""

    def __init__(
        self, camera: CameraConfig, source: str, on_frame: FrameCallback, metrics: EdgeMetrics,
        delay: Backoff | None = None, count_drops: bool = False,
    ) -> None:
        self.camera_id = camera.id
        self.source = source
        self._on_frame = on_frame
        self._metrics = metrics
        self._delay = delay or Backoff(initial_s=1.0, max_s=30.0, jitter=0.0)
        self._count_drops = count_drops
        self._latest: Frame | None = None
        self._taken = True  # the slot's frame was handed to the consumer (an empty slot counts as taken)
        self._frames = 0
        self._dropped = 0
        self._failed_reads = 0
        self._last_open_at: datetime | None = None
        self._lock = threading.Condition()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"camera-{camera.id}", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        with self._lock:
            self._lock.notify_all()
        self._thread.join(timeout)

    def latest(self) -> Frame | None:
        """The newest frame, without taking it (health checks look; only the worker takes)."""
        with self._lock:
            return self._latest

    def take(self, timeout_s: float = 0.0) -> Frame | None:
        """The newest frame not yet taken, waiting up to ``timeout_s`` for one; None if none came."""
        with self._lock:
            if self._taken and timeout_s > 0:
                self._lock.wait_for(lambda: not self._taken or self._stop.is_set(), timeout_s)
            if self._taken:
                return None
            self._taken = True
            return self._latest

    def status(self) -> "ReaderStatus":
        with self._lock:
            return ReaderStatus(self._frames, self._dropped, self._failed_reads, self._last_open_at)

    @property
    def running(self) -> bool:
        """Whether the reading thread is alive (started and not stopped)."""
        return self._thread.is_alive()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self._open_and_read()
            except Exception:  # noqa: BLE001 - the camera is reopened, whatever OpenCV raised
                self._metrics.camera_errors.labels(self.camera_id).inc()
                log.exception("camera reader failed; reopening", camera=self.camera_id)
            if not self._stop.is_set():
                self._metrics.camera_reconnects.labels(self.camera_id).inc()
                delay = self._delay.next_delay()
                log.warning("camera unavailable; reopening", camera=self.camera_id, retry_in_s=delay)
                self._stop.wait(delay)

    def _open_and_read(self) -> None:
        capture = self._open()
        if capture is not None:
            try:
                self._read(capture)
            finally:
                capture.release()

    def _open(self) -> cv2.VideoCapture | None:
        if is_network_source(self.source):
            params = [cv2.CAP_PROP_OPEN_TIMEOUT_MSEC, NETWORK_TIMEOUT_MS, cv2.CAP_PROP_READ_TIMEOUT_MSEC, NETWORK_TIMEOUT_MS]
            capture = cv2.VideoCapture(self.source, cv2.CAP_FFMPEG, params)
        else:
            capture = cv2.VideoCapture(self.source)
        if capture.isOpened():
            log.info("camera opened", camera=self.camera_id)
            with self._lock:
                self._last_open_at = datetime.now(timezone.utc)
            return capture
        capture.release()
        return None

    def _read(self, capture: cv2.VideoCapture) -> None:
        """Read until the source fails or the reader stops; files loop at their own frame rate."""
        pacer = _FilePacer(capture) if not is_network_source(self.source) else None
        while not self._stop.is_set():
            ok, image = capture.read()
            if not ok or image is None:
                if pacer is None or not pacer.rewind():
                    self._read_failed()
                    return
                continue
            self._keep(image)
            self._delay.reset()
            if pacer is not None:
                self._stop.wait(pacer.wait_s())

    def _keep(self, image: np.ndarray) -> None:
        now = datetime.now(timezone.utc)
        with self._lock:
            dropped = self._count_drops and not self._taken
            self._frames += 1
            self._dropped += dropped
            self._latest, self._taken = Frame(image, now, self._frames), False
            self._lock.notify_all()
        self._metrics.camera_frames.labels(self.camera_id).inc()
        if dropped:
            self._metrics.camera_frames_dropped.labels(self.camera_id).inc()
        self._on_frame(self.camera_id, now)

    def _read_failed(self) -> None:
        """The source stopped delivering, or opened and never decoded a frame."""
        with self._lock:
            self._failed_reads += 1
        self._metrics.camera_read_failures.labels(self.camera_id).inc()


@dataclass(frozen=True)
class ReaderStatus:
    """Counters of one reader since it started, and when its source last opened."""

    frames: int
    dropped: int
    failed_reads: int
    last_open_at: datetime | None


class _FilePacer:
    """Schedules a file's frames at the file's own rate and rewinds it at the end."""

    def __init__(self, capture: cv2.VideoCapture) -> None:
        fps = capture.get(cv2.CAP_PROP_FPS)
        self._capture = capture
        self._period = 1.0 / (fps if 0 < fps <= 240 else DEFAULT_FILE_FPS)
        self._next = time.monotonic()
        self._frames_this_pass = 0

    def wait_s(self) -> float:
        self._frames_this_pass += 1
        self._next += self._period
        lag = time.monotonic() - self._next
        if lag > MAX_LAG_S:
            self._next = time.monotonic()
        return max(0.0, self._next - time.monotonic())

    def rewind(self) -> bool:
        """Back to the first frame; False for a file that yields no frames at all (broken)."""
        if self._frames_this_pass == 0:
            return False
        self._frames_this_pass = 0
        return bool(self._capture.set(cv2.CAP_PROP_POS_FRAMES, 0))
