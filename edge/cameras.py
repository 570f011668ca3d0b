"""One camera on the edge: its reader, its picture-health rules and (with detectors) its worker.

The agent holds one ``CameraUnit`` per enabled camera and calls ``check(now)`` once a second:
the unit feeds the newest frame and the reader's open times to ``CameraHealth`` and returns the
``camera_offline`` / ``camera_fault`` alerts that are due. ``status(now)`` is the camera's part of
the agent's /healthz.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import structlog

from detectors.models import ModelError
from detectors.pipeline import CameraDetectors, zone_rules_from_config
from edge.alerts import AlertIds, to_alert
from edge.camera_health import CameraHealth, FrameLook
from edge.camera_worker import AlertSink, CameraAlerts, CameraWorker
from edge.capture import CameraReader, FrameCallback, resolve_source
from edge.config import CameraConfig, SiteConfig, offline_after
from edge.detect import detectors_config
from edge.metrics import EdgeMetrics
from gridwatch.contracts import Alert

log = structlog.get_logger(__name__)

DetectorsFactory = Callable[[CameraConfig], tuple[CameraDetectors, float]]


def build_detectors(camera: CameraConfig) -> tuple[CameraDetectors, float]:
    """The camera's detectors (models loaded, sha256-checked) and the seconds between sampled frames."""
    assert camera.detectors is not None
    config, every_s = detectors_config(camera, None)
    return CameraDetectors.build(config, zone_rules_from_config(camera.zones)), every_s


@dataclass
class CameraUnit:
    camera: CameraConfig
    site_id: str
    reader: CameraReader
    health: CameraHealth
    worker: CameraWorker | None = None
    detectors_error: str | None = None  # why configured detectors are not running (a missing model)
    _ids: AlertIds = field(init=False)
    _frames_seen: int = 0
    _opened_seen: datetime | None = None

    def __post_init__(self) -> None:
        self._ids = AlertIds(self.camera.id)

    @classmethod
    def build(cls, camera: CameraConfig, site: SiteConfig, site_dir: Path, on_frame: FrameCallback,
              metrics: EdgeMetrics, sink: AlertSink, now: datetime,
              detectors: DetectorsFactory = build_detectors) -> "CameraUnit":
        reader = CameraReader(camera, resolve_source(camera.source, site_dir), on_frame, metrics,
                              count_drops=camera.detectors is not None)
        health = CameraHealth(camera.id, camera.health, offline_after(site, camera), started=now)
        worker, error = None, None
        if camera.detectors is not None:
            try:
                pipeline, every_s = detectors(camera)
            except ModelError as exc:  # the camera still counts for liveness and faults; /healthz says why
                error = str(exc)
                metrics.camera_worker_errors.labels(camera.id, "load").inc()
                log.error("camera detectors not started", camera=camera.id, error=error)
            else:
                alerts = CameraAlerts(camera, site.site_id, [r.zone for r in pipeline.zones], metrics)
                worker = CameraWorker(camera, reader, pipeline, alerts, sink, metrics, every_s)
        return cls(camera, site.site_id, reader, health, worker, error)

    def start(self) -> None:
        self.reader.start()
        if self.worker is not None:
            self.worker.start()

    def stop(self) -> None:
        if self.worker is not None:
            self.worker.stop()
        self.reader.stop()

    def check(self, now: datetime) -> list[Alert]:
        """Feed the newest evidence to the health rules; the offline/fault alerts now due."""
        status = self.reader.status()
        if status.last_open_at is not None and status.last_open_at != self._opened_seen:
            self._opened_seen = status.last_open_at
            self.health.opened(status.last_open_at)
        frame = self.reader.latest()
        if frame is not None and frame.index != self._frames_seen:
            self._frames_seen = frame.index
            self.health.frame(frame.at, FrameLook.of(frame.image))
        return [to_alert(d, self.camera, self.site_id, now, self._ids.next_id(d, now)) for d in self.health.due(now)]

    def status(self, now: datetime) -> dict[str, Any]:
        reader = self.reader.status()
        out: dict[str, Any] = {
            "state": self.health.state(),
            "silent_s": round(self.health.silent_s(now), 1),
            "frames": reader.frames,
            "dropped": reader.dropped,
            "failed_reads": reader.failed_reads,
            "detectors": self.worker is not None,
        }
        if self.detectors_error is not None:
            out["detectors_error"] = self.detectors_error
        if self.worker is not None:
            stats = self.worker.stats
            out.update(worker_running=self.worker.running, processed=stats.processed, skipped=stats.skipped,
                       alerts=stats.alerts, errors=stats.errors, sample_every_s=round(self.worker.every_s, 3),
                       last_detect_ms=None if stats.last_detect_s is None else round(stats.last_detect_s * 1000, 1))
        return out
