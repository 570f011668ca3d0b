"""A camera's detection worker on real footage and the real CenterNet model: decisions become
Alerts with their snapshots, handed to the sink snapshot first; counters and failures.

Frames of ../shared/media/video/vtest.avi are handed to ``CameraWorker.process`` one second apart
(capture times laid on T0), so the van parked in the no-parking bay is an alert after a 3 s limit
without waiting for the clock. Skips when the footage or model is not beside the repo.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path

import cv2
import numpy as np
import pytest

from detectors.models import ModelError
from edge.camera_worker import CameraAlerts, CameraWorker
from edge.capture import CameraReader, Frame
from detectors.backends import Backend, CenterNetConfig, build_backend
from detectors.pipeline import CameraDetectors, zone_rules_from_config
from edge.detect import detectors_config
from edge.cameras import CameraUnit
from edge.config import CameraConfig, SiteConfig
from edge.metrics import EdgeMetrics
from gridwatch.contracts import Alert
from gridwatch.snapshot import Snapshot

REPO = Path(__file__).resolve().parents[2]
VTEST = REPO.parent / "shared" / "media" / "video" / "vtest.avi"
T0 = datetime(2026, 9, 9, 6, 0, tzinfo=timezone.utc)
CAMERA = CameraConfig.model_validate({
    "id": "cam-vtest", "source": str(VTEST), "lat": 37.86143, "lon": 112.55340,
    "zones": [{"id": "van-bay", "kind": "no_parking", "polygon": [[620, 60], [735, 60], [735, 125], [620, 125]],
               "lat": 37.86151, "lon": 112.55352, "parking": {"limit_s": 3}}],
    "detectors": {"backend": {"type": "onnx_centernet"}, "frame_rate": 1},
    "snapshot_max_bytes": 150_000,
})


@dataclass
class ListSink:
    """Collects what the worker publishes, in order (the spool-first publisher in the agent)."""

    published: list[Alert | Snapshot] = field(default_factory=list)

    def publish_alert(self, alert: Alert) -> int:
        self.published.append(alert)
        return len(self.published)

    def publish_snapshot(self, snapshot: Snapshot) -> int:
        self.published.append(snapshot)
        return len(self.published)


@pytest.fixture(scope="module")
def frames() -> list[Frame]:
    if not VTEST.is_file():
        pytest.skip(f"{VTEST} not found (tests read ../shared/media in place)")
    capture = cv2.VideoCapture(str(VTEST))
    out = []
    for i in range(80):  # 8 s of video; every 10th frame, handed over as one a second
        ok, image = capture.read()
        assert ok
        if i % 10 == 0:
            out.append(Frame(image, T0 + timedelta(seconds=i // 10), i // 10 + 1))
    capture.release()
    return out


@pytest.fixture(scope="module")
def backend() -> Backend:
    """Loaded once: the model load (and its sha256 check) costs more than the frames."""
    try:
        return build_backend(CenterNetConfig())
    except ModelError as exc:
        pytest.skip(str(exc))


def worker_for(camera: CameraConfig, sink: ListSink, metrics: EdgeMetrics, backend: Backend) -> CameraWorker:
    config, every_s = detectors_config(camera, None)
    pipeline = CameraDetectors(config, zone_rules_from_config(camera.zones), backend)
    reader = CameraReader(camera, camera.source, lambda cam, at: None, metrics, count_drops=True)  # not started
    alerts = CameraAlerts(camera, "site-1", [r.zone for r in pipeline.zones], metrics)
    return CameraWorker(camera, reader, pipeline, alerts, sink, metrics, every_s)


def test_parked_van_becomes_an_alert_with_its_snapshot_sent_first(frames: list[Frame], backend: Backend) -> None:
    sink, metrics = ListSink(), EdgeMetrics()
    worker = worker_for(CAMERA, sink, metrics, backend)
    for frame in frames:
        worker.process(frame)
    assert [type(p).__name__ for p in sink.published][:2] == ["Snapshot", "Alert"]
    snapshot, alert = sink.published[0], sink.published[1]
    assert isinstance(snapshot, Snapshot) and isinstance(alert, Alert)
    assert (alert.category, alert.type, alert.device_id, alert.site_id) == ("parking", "illegal_parking", "cam-vtest", "site-1")
    assert (alert.lat, alert.lon) == (37.86151, 112.55352), "the zone's position, not the camera's"
    assert alert.attributes["phase"] == "start" and alert.attributes["zone"] == "van-bay"
    assert alert.attributes["snapshot"] == f"cam-vtest/{alert.id}.jpg"
    assert snapshot.alert_id == alert.id and snapshot.taken_at == alert.observed_at
    assert T0 + timedelta(seconds=3) <= alert.observed_at <= T0 + timedelta(seconds=7)
    picture = cv2.imdecode(np.frombuffer(snapshot.jpeg, np.uint8), cv2.IMREAD_COLOR)
    assert picture.shape == (576, 768, 3) and len(snapshot.jpeg) <= 150_000
    stats = worker.stats
    assert stats.processed == len(frames) and stats.alerts >= 1 and stats.errors == 0
    sample = metrics.registry.get_sample_value
    assert sample("gridwatch_edge_camera_frames_processed_total", {"camera": "cam-vtest"}) == len(frames)
    assert sample("gridwatch_edge_camera_stage_seconds_count", {"camera": "cam-vtest", "stage": "detect"}) == len(frames)


def test_a_frame_the_detectors_cannot_take_is_counted_and_the_next_is_processed(frames: list[Frame], backend: Backend) -> None:
    sink, metrics = ListSink(), EdgeMetrics()
    worker = worker_for(CAMERA, sink, metrics, backend)
    broken = Frame(np.zeros((0, 0, 3), np.uint8), T0, 1)
    assert worker.process(broken) == []
    worker.process(frames[1])
    assert worker.stats.errors == 1 and worker.stats.processed == 1
    assert metrics.registry.get_sample_value("gridwatch_edge_camera_worker_errors_total",
                                             {"camera": "cam-vtest", "stage": "process"}) == 1


class NoRoomForPictures(ListSink):
    """A spool that takes alerts but no snapshot (one bigger than ``spool.max_bytes``, a full disk)."""

    def publish_snapshot(self, snapshot: Snapshot) -> int:
        raise ValueError("record of 120000 bytes exceeds the spool's max_bytes")


def test_an_alert_whose_snapshot_cannot_be_spooled_is_still_sent_without_it(frames: list[Frame],
                                                                            backend: Backend) -> None:
    sink, metrics = NoRoomForPictures(), EdgeMetrics()
    worker = worker_for(CAMERA, sink, metrics, backend)
    for frame in frames:
        worker.process(frame)
    alert = sink.published[0]
    assert isinstance(alert, Alert) and alert.attributes["phase"] == "start" and "snapshot" not in alert.attributes
    assert worker.stats.errors == 0 and worker.stats.alerts >= 1
    assert metrics.registry.get_sample_value("gridwatch_edge_camera_worker_errors_total",
                                             {"camera": "cam-vtest", "stage": "snapshot"}) >= 1


def test_a_camera_whose_model_is_missing_keeps_its_reader_and_says_why(tmp_path: Path) -> None:
    def missing(camera: CameraConfig):
        raise ModelError("model centernet-mbv3-coco: /nowhere/centernet.onnx not found (set GRIDWATCH_MODELS_DIR)")

    site = SiteConfig(site_id="site-1", lat=37.86, lon=112.55, cameras=[CAMERA])
    metrics = EdgeMetrics()
    unit = CameraUnit.build(CAMERA, site, tmp_path, lambda cam, at: None, metrics, ListSink(), T0, detectors=missing)
    assert unit.worker is None and unit.reader is not None
    status = unit.status(T0)
    assert status["detectors"] is False and "GRIDWATCH_MODELS_DIR" in status["detectors_error"]
    assert metrics.registry.get_sample_value("gridwatch_edge_camera_worker_errors_total",
                                             {"camera": "cam-vtest", "stage": "load"}) == 1
