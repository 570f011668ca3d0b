"""The edge agent of one residential compound: wiring only, in boot order.

spool -> publisher (drains to Kafka) -> liveness tracker -> MQTT buttons -> cameras (a reader
thread each, and a detection worker each for cameras with detectors, whose alerts and snapshots
go to the publisher) -> health server, then a loop that once a second asks the tracker what is
due (heartbeats, device_offline alerts for buttons) and each camera which camera_offline /
camera_fault alerts are due, and publishes them. SIGTERM or SIGINT stops everything in reverse
order; records not yet in Kafka stay in the spool for the next start.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable
from datetime import datetime
from http.server import ThreadingHTTPServer
from pathlib import Path

import structlog

from edge.buttons import ButtonDecoder
from edge.cameras import CameraUnit, DetectorsFactory, build_detectors
from edge.config import SiteConfig, offline_after
from edge.heartbeat import Device, LivenessTracker
from edge.metrics import EdgeMetrics
from edge.mqtt import ButtonSubscriber
from edge.publisher import Publisher, spool_drop_reporter
from edge.routing import ButtonRouter, Clock, utc_now
from edge.spool import Spool, spool_path
from gridwatch.observability import serve_health
from gridwatch.settings import Settings

log = structlog.get_logger(__name__)

TICK_S = 1.0


class EdgeAgent:
    """All of one site's edge components, built from settings and the site file."""

    def __init__(self, settings: Settings, site: SiteConfig, site_path: Path, clock: Clock = utc_now,
                 detectors: DetectorsFactory = build_detectors) -> None:
        self.settings = settings
        self.site = site
        self.clock = clock
        self.edge_id = f"edge-{site.site_id}"
        self.metrics = EdgeMetrics()
        self.spool = Spool(
            spool_path(settings.edge.spool_dir, site.site_id), site.spool, on_drop=spool_drop_reporter(self.metrics)
        )
        self.publisher = Publisher(settings.kafka, self.spool, self.metrics)
        self.tracker = build_tracker(site, self.edge_id, clock())
        decoder = ButtonDecoder(site.site_id, site.buttons)
        self.router = ButtonRouter(decoder, self.tracker, self.publisher, self.metrics, clock)
        self.subscriber = (
            ButtonSubscriber(settings.mqtt, decoder.subscriptions(), self.router.handle, self.metrics,
                             client_id=f"gridwatch-edge-{site.site_id}")
            if site.buttons else None
        )
        site_dir = site_path.resolve().parent
        self.cameras = [
            CameraUnit.build(cam, site, site_dir, self._camera_frame, self.metrics, self.publisher, clock(), detectors)
            for cam in site.cameras if cam.enabled
        ]
        self._health_server: ThreadingHTTPServer | None = None

    def start(self) -> None:
        self.publisher.start()
        if self.subscriber is not None:
            self.subscriber.start()
        for camera in self.cameras:
            camera.start()
        port = self.settings.edge.metrics_port
        if port:  # 0 turns the endpoint off, as for the ingest
            self._health_server = serve_health(port, self.metrics.registry, self.health)
        log.info("edge agent started", site_id=self.site.site_id, buttons=len(self.site.buttons),
                 cameras=len(self.cameras), spooled=self.spool.depth(), metrics_port=port or None)

    def tick(self, now: datetime | None = None) -> None:
        """Publish what the liveness tracker says is due; the agent itself is alive by definition."""
        now = now or self.clock()
        self.tracker.seen(self.edge_id, now)
        report = self.tracker.due(now)
        for alert in report.alerts:
            log.warning("device offline", device_id=alert.device_id, **alert.attributes)
            self.publisher.publish_alert(alert)
        for heartbeat in report.heartbeats:
            self.publisher.publish_heartbeat(heartbeat)
        for camera in self.cameras:
            for alert in camera.check(now):
                log.warning("camera " + alert.type.removeprefix("camera_"), device_id=alert.device_id,
                            **{k: alert.attributes.get(k) for k in ("phase", "fault", "reason")})
                self.publisher.publish_alert(alert)

    def run_until(self, stop: threading.Event) -> None:
        self.tick()
        while not stop.wait(TICK_S):
            self.tick()

    def stop(self) -> None:
        if self._health_server is not None:
            self._health_server.shutdown()
            self._health_server.server_close()
        if self.subscriber is not None:
            self.subscriber.stop()
        for camera in self.cameras:
            camera.stop()
        self.publisher.stop()
        self.spool.close()
        log.info("edge agent stopped", site_id=self.site.site_id)

    def health(self) -> dict[str, object]:
        """``ok`` needs MQTT (when the site has buttons) and a live publisher; Kafka may be down,
        since the spool covers an outage: its depth and age say how long it has lasted."""
        mqtt_ok = self.subscriber.connected if self.subscriber is not None else None
        now = self.clock()
        return {
            "ok": mqtt_ok is not False and self.publisher.running
            and all(c.reader.running and (c.worker is None or c.worker.running) for c in self.cameras)
            and not any(c.detectors_error for c in self.cameras),
            "site_id": self.site.site_id,
            "mqtt_connected": mqtt_ok,
            "kafka_reachable": self.publisher.kafka_reachable,
            "spool_depth": self.spool.depth(),
            "spool_oldest_age_s": round(self.spool.oldest_age_s(), 1),
            "spool_dropped_total": self.spool.dropped_total(),
            "spool_set_aside": str(self.spool.set_aside) if self.spool.set_aside else None,  # unreadable at start
            "devices_online": self.tracker.status(),
            "cameras": {c.camera.id: c.status(now) for c in self.cameras},
        }

    def _camera_frame(self, camera_id: str, at: datetime) -> None:
        self.tracker.seen(camera_id, at)


def build_tracker(site: SiteConfig, edge_id: str, now: datetime) -> LivenessTracker:
    """Every button, enabled camera and the agent itself, each with its offline threshold."""
    tracker = LivenessTracker(site.site_id, site.heartbeat.interval_s)
    for button in site.buttons:
        tracker.register(Device(button.id, "button", button.lat, button.lon, offline_after(site, button)), now)
    for camera in site.cameras:
        if camera.enabled:
            tracker.register(Device(camera.id, "camera", camera.lat, camera.lon, offline_after(site, camera),
                                    raises_alert=False), now)  # edge.camera_health raises camera_offline
    tracker.register(Device(edge_id, "edge", site.lat, site.lon, site.heartbeat.offline_after_s), now)
    return tracker


def run_agent(settings: Settings, site: SiteConfig, site_path: Path, stop: threading.Event | None = None) -> int:
    """Run until SIGTERM/SIGINT (or ``stop`` is set, for tests and embedding); returns the exit code."""
    stop = stop or threading.Event()
    restore = _stop_on_signals(stop)
    agent = EdgeAgent(settings, site, site_path)
    try:
        agent.start()
        agent.run_until(stop)
    finally:
        agent.stop()
        restore()
    return 0


def _stop_on_signals(stop: threading.Event) -> Callable[[], None]:
    """Route SIGTERM/SIGINT to ``stop``; only the main thread may install handlers."""
    if threading.current_thread() is not threading.main_thread():
        return lambda: None
    previous = {sig: signal.getsignal(sig) for sig in (signal.SIGTERM, signal.SIGINT)}

    def handle(signum: int, frame: object) -> None:
        log.info("stopping on signal", signal=signal.Signals(signum).name)
        stop.set()

    for sig in previous:
        signal.signal(sig, handle)

    def restore() -> None:
        for sig, handler in previous.items():
            signal.signal(sig, handler)

    return restore
