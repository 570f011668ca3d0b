"""The edge agent's Prometheus metrics, defined once and registered in the agent's own registry.

Keeping them on one object (rather than module-level globals in the default registry) lets tests
build as many agents as they like in one process, and lets ``/metrics`` show exactly this agent.
Label values are always from small fixed sets (topic names, rejection codes, camera ids), never
free text, so a misbehaving device cannot blow up the series count.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

PREFIX = "gridwatch_edge"


@dataclass
class EdgeMetrics:
    registry: CollectorRegistry = field(default_factory=CollectorRegistry)

    def __post_init__(self) -> None:
        r = self.registry
        self.spool_depth = Gauge(f"{PREFIX}_spool_depth", "records on disk waiting for Kafka", registry=r)
        self.spool_oldest_age = Gauge(
            f"{PREFIX}_spool_oldest_age_seconds", "age of the oldest unsent record", registry=r
        )
        self.spool_dropped = Counter(
            f"{PREFIX}_spool_dropped_total", "records dropped unsent to respect a spool bound", ["bound"], registry=r
        )
        self.kafka_sent = Counter(f"{PREFIX}_kafka_sent_total", "records Kafka confirmed", ["topic"], registry=r)
        self.kafka_send_failures = Counter(
            f"{PREFIX}_kafka_send_failures_total", "failed attempts to reach Kafka or deliver a batch", registry=r
        )
        self.kafka_reachable = Gauge(f"{PREFIX}_kafka_reachable", "1 when the last delivery succeeded", registry=r)
        self.mqtt_connected = Gauge(f"{PREFIX}_mqtt_connected", "1 while connected to the MQTT broker", registry=r)
        self.mqtt_messages = Counter(
            f"{PREFIX}_mqtt_messages_total", "MQTT messages by outcome", ["outcome"], registry=r
        )
        self.mqtt_rejected = Counter(
            f"{PREFIX}_mqtt_rejected_total", "MQTT messages dead-lettered, by reason", ["reason"], registry=r
        )
        self.alerts = Counter(f"{PREFIX}_alerts_total", "alerts raised", ["category", "type"], registry=r)
        self.snapshots = Counter(f"{PREFIX}_snapshots_total", "evidence snapshots spooled", ["camera"], registry=r)
        self.camera_frames = Counter(f"{PREFIX}_camera_frames_total", "frames decoded", ["camera"], registry=r)
        self.camera_frames_dropped = Counter(
            f"{PREFIX}_camera_frames_dropped_total", "frames replaced by a newer one before the detector took them",
            ["camera"], registry=r,
        )
        self.camera_read_failures = Counter(
            f"{PREFIX}_camera_read_failures_total", "times a source stopped delivering or yielded no decodable frame",
            ["camera"], registry=r,
        )
        self.camera_frames_processed = Counter(
            f"{PREFIX}_camera_frames_processed_total", "frames the detectors ran on (detected or motion-gated)",
            ["camera"], registry=r,
        )
        self.camera_frames_skipped = Counter(
            f"{PREFIX}_camera_frames_skipped_total", "processed frames whose detection was skipped by motion gating",
            ["camera"], registry=r,
        )
        self.camera_worker_errors = Counter(
            f"{PREFIX}_camera_worker_errors_total", "failures in a camera's detection worker, by stage",
            ["camera", "stage"], registry=r,
        )
        self.camera_stage_seconds = Histogram(
            f"{PREFIX}_camera_stage_seconds", "time per frame in each stage of a camera's detection worker "
            "(frame_age: capture to processing start; detect: detectors, tracking and rules; snapshot: draw and "
            "encode; spool: alert and snapshot to disk)", ["camera", "stage"], registry=r,
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
        )
        self.camera_reconnects = Counter(
            f"{PREFIX}_camera_reconnects_total", "times a camera source was (re)opened after a failure", ["camera"],
            registry=r,
        )
        self.camera_errors = Counter(
            f"{PREFIX}_camera_reader_errors_total", "unexpected errors in a camera's reader (it reopens the source)",
            ["camera"], registry=r,
        )
