"""A camera's detection worker: newest frame at the camera's sample rate -> detectors -> alerts
with their snapshots -> the spool-first publisher.

One thread per camera with detectors, apart from its reader thread, so a slow model never stalls
decoding (the reader keeps replacing the newest frame; what the worker did not take is counted as
dropped) and a dead stream never stalls the model. The worker sleeps until the next sampling
instant, takes the newest frame not yet taken, and when it falls behind it does not burst to catch
up: it processes the newest frame and schedules the next one a period later.

Time: a live camera has no time base of its own that survives reconnects, so ``t`` (what dwell and
durations are measured on) is seconds of capture time since the worker's first frame, and each
alert is observed at its frame's capture time.

A failure on one frame (a model error, a snapshot that cannot be encoded) is logged and counted by
stage, and the worker goes on with the next frame; an alert whose snapshot failed is still sent.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

import cv2
import structlog

from detectors.pipeline import CameraDetectors, FrameResult
from detectors.types import AlertDecision, TimedFrame
from detectors.zones import Zone
from edge.alerts import AlertIds, to_alert
from edge.capture import CameraReader, Frame
from edge.config import CameraConfig
from edge.detect import headline
from edge.metrics import EdgeMetrics
from edge.snapshots import snapshot_jpeg, snapshot_key
from gridwatch.contracts import Alert
from gridwatch.snapshot import Snapshot

log = structlog.get_logger(__name__)


class AlertSink(Protocol):
    """Where alerts and their snapshots go: ``edge.publisher.Publisher`` (spool first)."""

    def publish_alert(self, alert: Alert) -> int: ...

    def publish_snapshot(self, snapshot: Snapshot) -> int: ...


@dataclass(frozen=True, eq=False)
class Evidence:
    alert: Alert
    snapshot: Snapshot | None


@dataclass
class CameraAlerts:
    """Decisions of one frame to contract Alerts, each with its annotated JPEG (pure apart from ids)."""

    camera: CameraConfig
    site_id: str
    zones: list[Zone]
    metrics: EdgeMetrics | None = None
    ids: AlertIds = field(init=False)

    def __post_init__(self) -> None:
        self.ids = AlertIds(self.camera.id)

    def evidence(self, frame: Frame, result: FrameResult) -> list[Evidence]:
        out = []
        for decision in result.decisions:
            alert_id = self.ids.next_id(decision, frame.at)
            snapshot = self._snapshot(frame, result, decision, alert_id)
            reference = snapshot_key(self.camera.id, alert_id) if snapshot is not None else None
            alert = to_alert(decision, self.camera, self.site_id, frame.at, alert_id, reference)
            out.append(Evidence(alert, snapshot))
        return out

    def _snapshot(self, frame: Frame, result: FrameResult, decision: AlertDecision, alert_id: str) -> Snapshot | None:
        try:
            jpeg = snapshot_jpeg(frame.image, result.detections, self.zones, decision.boxes, headline(decision),
                                 self.camera.snapshot_max_bytes)
        except (ValueError, OSError, cv2.error):  # keep the alert either way
            log.exception("snapshot failed; alert sent without it", camera=self.camera.id, alert_id=alert_id)
            if self.metrics is not None:
                self.metrics.camera_worker_errors.labels(self.camera.id, "snapshot").inc()
            return None
        return Snapshot(alert_id, self.camera.id, self.site_id, frame.at, jpeg)


@dataclass
class WorkerStats:
    processed: int = 0
    skipped: int = 0
    alerts: int = 0
    errors: int = 0
    last_frame_at: datetime | None = None
    last_detect_s: float | None = None


class CameraWorker:
    """Runs one camera's detectors on its newest frames, ``every_s`` apart, on a daemon thread."""

    def __init__(self, camera: CameraConfig, reader: CameraReader, pipeline: CameraDetectors, alerts: CameraAlerts,
                 sink: AlertSink, metrics: EdgeMetrics, every_s: float) -> None:
        self.camera_id = camera.id
        self._local_time = camera.local_time
        self.every_s = every_s
        self._reader = reader
        self._pipeline = pipeline
        self._alerts = alerts
        self._sink = sink
        self._metrics = metrics
        self._origin: datetime | None = None
        self.stats = WorkerStats()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"detect-{camera.id}", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        self._thread.join(timeout)

    @property
    def running(self) -> bool:
        return self._thread.is_alive()

    def _run(self) -> None:
        next_at = time.monotonic()
        while not self._stop.is_set():
            if self._stop.wait(max(0.0, next_at - time.monotonic())):
                return
            frame = self._reader.take(timeout_s=self.every_s)
            if frame is None:
                next_at = time.monotonic()  # no new frame yet: take the next one as soon as it comes
                continue
            self.process(frame)
            next_at = max(next_at + self.every_s, time.monotonic())

    def process(self, frame: Frame) -> list[Evidence]:
        """Detectors, alerts and snapshots for one frame, handed to the sink; [] when it failed."""
        camera = self.camera_id
        self._observe("frame_age", (datetime.now(frame.at.tzinfo) - frame.at).total_seconds())
        self._origin = self._origin or frame.at
        timed = TimedFrame(frame.image, (frame.at - self._origin).total_seconds(), wall=self._local_time(frame.at))
        try:
            with self._timed("detect") as elapsed:
                result = self._pipeline.process(timed)
            with self._timed("snapshot"):
                evidence = self._alerts.evidence(frame, result)
            with self._timed("spool"):
                for item in evidence:
                    self._publish(item)
        except Exception:  # noqa: BLE001 - one bad frame must not stop the camera's detection
            self.stats.errors += 1
            self._metrics.camera_worker_errors.labels(camera, "process").inc()
            log.exception("detection failed on a frame; going on", camera=camera, frame=frame.index)
            return []
        self._count(frame, result, evidence, elapsed[0])
        return evidence

    def _publish(self, item: Evidence) -> None:
        """The snapshot first, so the picture is there when the alert is read; an alert whose snapshot
        could not be spooled still goes, without the reference."""
        alert = item.alert
        if item.snapshot is not None:
            try:
                self._sink.publish_snapshot(item.snapshot)
            except Exception:  # noqa: BLE001 - the alert matters more than its picture
                self._metrics.camera_worker_errors.labels(self.camera_id, "snapshot").inc()
                log.exception("snapshot not spooled; sending the alert without it", camera=self.camera_id,
                              alert=alert.id)
                alert = alert.model_copy(update={"attributes": {k: v for k, v in alert.attributes.items()
                                                                if k != "snapshot"}})
        self._sink.publish_alert(alert)

    def _count(self, frame: Frame, result: FrameResult, evidence: list[Evidence], detect_s: float) -> None:
        self.stats.processed += 1
        self.stats.skipped += not result.detected
        self.stats.alerts += len(evidence)
        self.stats.last_frame_at, self.stats.last_detect_s = frame.at, detect_s
        self._metrics.camera_frames_processed.labels(self.camera_id).inc()
        if not result.detected:
            self._metrics.camera_frames_skipped.labels(self.camera_id).inc()
        for item in evidence:
            log.info("camera alert", camera=self.camera_id, alert_id=item.alert.id, type=item.alert.type,
                     phase=item.alert.attributes.get("phase"), zone=item.alert.attributes.get("zone"),
                     snapshot=item.snapshot is not None)

    def _observe(self, stage: str, seconds: float) -> None:
        self._metrics.camera_stage_seconds.labels(self.camera_id, stage).observe(max(0.0, seconds))

    @contextmanager
    def _timed(self, stage: str) -> Iterator[list[float]]:
        elapsed = [0.0]
        began = time.perf_counter()
        try:
            yield elapsed
        finally:
            elapsed[0] = time.perf_counter() - began
            self._observe(stage, elapsed[0])
