"""Per-camera wiring: one object detection per frame, shared by tracking and every rule.

``CameraDetectors.process(frame)`` runs the COCO backend (unless motion gating says the scene is
unchanged, in which case the last tracked detections are reused and the frame is counted as
skipped), the tracker, the crowd and parking rules, and, at its own slower interval, the fire
model and rule. It returns a ``FrameResult``; it never publishes, sleeps or starts threads, so
the edge agent decides where results go and tests run it over a video file directly.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Iterable

import cv2
import numpy as np

from detectors.backends import Backend, build_backend
from detectors.calibration import GroundPlane
from detectors.config import CameraDetectorsConfig, MotionGateConfig
from detectors.crowd import CrowdRule, CrowdZoneConfig
from detectors.fire import FireRule
from detectors.labels import PERSON, VEHICLES
from detectors.parking import ParkingRule, ParkingZoneConfig
from detectors.tracking import Tracker
from detectors.types import AlertDecision, Detections, TimedFrame
from detectors.zones import Zone

PARKING_KINDS = ("no_parking", "fire_lane")


@dataclass(frozen=True)
class ZoneRules:
    """A zone and the rules that watch it (built from edge ``ZoneConfig``)."""

    zone: Zone
    crowd: CrowdZoneConfig | None = None
    parking: ParkingZoneConfig | None = None


def zone_rules_from_config(zones: Iterable[Any]) -> list[ZoneRules]:
    """edge ``ZoneConfig``s to ``ZoneRules``: no_parking/fire_lane zones get parking defaults."""
    out = []
    for z in zones:
        parking = z.parking or (ParkingZoneConfig() if z.kind in PARKING_KINDS else None)
        out.append(ZoneRules(Zone(z.id, np.asarray(z.polygon, np.float32), z.kind), z.crowd, parking))
    return out


class MotionGate:
    """Says whether a frame differs enough from the last *detected* frame to detect again."""

    def __init__(self, config: MotionGateConfig) -> None:
        self.config = config
        self._ref: np.ndarray | None = None
        self._ref_t: float | None = None

    def _small(self, image: np.ndarray) -> np.ndarray:
        h, w = image.shape[:2]
        size = (self.config.width, max(1, round(h * self.config.width / w)))
        return cv2.GaussianBlur(cv2.cvtColor(cv2.resize(image, size), cv2.COLOR_BGR2GRAY), (3, 3), 0)

    def should_detect(self, image: np.ndarray, t: float) -> bool:
        small = self._small(image)
        if not self.config.enabled or self._ref is None or self._ref.shape != small.shape:
            return self._take(small, t)
        if self._ref_t is not None and t - self._ref_t >= self.config.max_skip_s:
            return self._take(small, t)
        changed = float((cv2.absdiff(small, self._ref) > self.config.pixel_delta).mean())
        return self._take(small, t) if changed >= self.config.min_changed else False

    def _take(self, small: np.ndarray, t: float) -> bool:
        self._ref, self._ref_t = small, t
        return True


@dataclass
class FrameStats:
    frames: int = 0
    detected: int = 0
    skipped: int = 0
    fire_runs: int = 0


STAGES = ("gate", "detect", "track", "rules", "fire")


@dataclass(frozen=True)
class StageTimes:
    """Seconds one frame spent in each stage, on the wall clock and on this thread's CPU clock.

    The CPU figure is what a core really spent (it excludes time the thread waited for the core
    on a busy machine); it counts model work only when the backend runs on the calling thread
    (``threads: 1``). A stage that did not run (detect and track on a gated frame) reads 0.
    """

    wall: dict[str, float] = field(default_factory=dict)
    cpu: dict[str, float] = field(default_factory=dict)


class StageClock:
    """Marks stage boundaries within one ``process`` call."""

    def __init__(self) -> None:
        self._wall, self._cpu = time.perf_counter(), time.thread_time()
        self.times = StageTimes({s: 0.0 for s in STAGES}, {s: 0.0 for s in STAGES})

    def lap(self, stage: str) -> None:
        wall, cpu = time.perf_counter(), time.thread_time()
        self.times.wall[stage] += wall - self._wall
        self.times.cpu[stage] += cpu - self._cpu
        self._wall, self._cpu = wall, cpu


@dataclass(frozen=True)
class FrameResult:
    detections: Detections  # tracked COCO detections (persons and vehicles carry track ids)
    decisions: list[AlertDecision]
    detected: bool  # False when motion gating reused the previous detections
    fire_detections: Detections | None = None  # None when the fire model did not run on this frame
    times: StageTimes = field(default_factory=StageTimes)  # where this frame's time went


@dataclass
class CameraDetectors:
    """Everything one camera runs, with its own state (no globals: cameras never share a track)."""

    config: CameraDetectorsConfig
    zones: list[ZoneRules]
    backend: Backend
    fire_backend: Backend | None = None
    stats: FrameStats = field(default_factory=FrameStats)

    def __post_init__(self) -> None:
        c = self.config
        ground = GroundPlane(c.calibration) if c.calibration else None
        self.gate = MotionGate(c.motion)
        self.tracker = Tracker(c.tracker, frame_rate=c.frame_rate)
        self.crowd = CrowdRule([(z.zone, z.crowd) for z in self.zones if z.crowd], c.crowd_confirm, ground)
        self.parking = ParkingRule(
            [(z.zone, z.parking) for z in self.zones if z.parking], c.parking_update_interval_s, ground
        )
        self.fire = FireRule(c.fire.verify, c.fire.confirm) if c.fire else None
        self._last = Detections.empty(self.backend.labels)
        self._last_fire_t: float | None = None

    @classmethod
    def build(cls, config: CameraDetectorsConfig, zones: list[ZoneRules]) -> "CameraDetectors":
        """Load the models a config names (sha256-checked) and wire the rules."""
        fire_backend = build_backend(config.fire.backend) if config.fire else None
        return cls(config, zones, build_backend(config.backend), fire_backend)

    def process(self, frame: TimedFrame) -> FrameResult:
        clock = StageClock()
        self.stats.frames += 1
        detected = self.gate.should_detect(frame.image, frame.t)
        clock.lap("gate")
        if detected:
            self.stats.detected += 1
            raw = self.backend.detect(frame.image).of_classes(PERSON | VEHICLES)
            clock.lap("detect")
            # An ultralytics backend with own_tracker already assigned ids: keep them.
            self._last = raw if raw.tracker_id is not None else self.tracker.update(raw, frame.t)
            clock.lap("track")
        else:
            self.stats.skipped += 1
        decisions = self.crowd.update(self._last, frame.t) + self.parking.update(self._last, frame.t, frame.wall)
        clock.lap("rules")
        fire_dets = self._fire(frame)
        if fire_dets is not None and self.fire is not None:
            decisions += self.fire.update(fire_dets, frame)
        clock.lap("fire")
        return FrameResult(self._last, decisions, detected, fire_dets, clock.times)

    def _fire(self, frame: TimedFrame) -> Detections | None:
        if self.fire_backend is None or self.config.fire is None:
            return None
        if self._last_fire_t is not None and frame.t - self._last_fire_t < self.config.fire.interval_s:
            return None
        self._last_fire_t = frame.t
        self.stats.fire_runs += 1
        return self.fire_backend.detect(frame.image)
