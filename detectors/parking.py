"""Illegal parking: a vehicle that stays put in a no-parking zone or fire lane past the zone's limit.

Pure: detections, frame time and (for time-of-day limits) local wall time in, decisions out.
A vehicle is remembered as a ``ParkedVehicle`` record, matched each frame by track id and, failing
that, by overlap with where it was last seen, if the box stands where the vehicle stood and its
track is new (a tracker's new id for the same vehicle comes with its first box); so the dwell clock
survives a pedestrian walking in front of it, a missed detection, or the tracker giving it a new
id, and a van driving past in front does not take its place. A record seen more than ``max_move`` from where its clock started, or outside the zone, for
``leave_s`` restarts its clock or leaves (it is driving, not parked; one jumpy box is neither).
One record gives one alert (start, updates, end), whatever the frame rate; once over its limit it
stays over while the clock runs (a time-of-day window closing does not end it); the alert ends when
the vehicle has moved or left for ``leave_s``, or has not been seen for ``occlusion_s``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, time

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, model_validator

from detectors.backends.base import nms
from detectors.calibration import GroundPlane
from detectors.confirm import ConfirmConfig, Confirmer
from detectors.labels import VEHICLES
from detectors.types import AlertDecision, Detections
from detectors.zones import Zone

CATEGORY, TYPE = "parking", "illegal_parking"
TRACKS_REMEMBERED = 10_000  # past this many track ids, those unseen for TRACK_MEMORY_S are forgotten
TRACK_MEMORY_S = 3600.0


class TimeWindowLimit(BaseModel):
    """A dwell limit that applies between two local times; the window may wrap past midnight."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    start: time = Field(description="local time the window opens, HH:MM")
    end: time = Field(description="local time the window closes, HH:MM (before start: wraps midnight)")
    limit_s: float = Field(gt=0, description="dwell limit in this window, seconds")

    @model_validator(mode="after")
    def _not_empty(self) -> "TimeWindowLimit":
        if self.start == self.end:
            raise ValueError(f"start and end are both {self.start:%H:%M}, a window of no time; for all day "
                             "set the zone's limit_s instead")
        return self

    def covers(self, at: time) -> bool:
        if self.start <= self.end:
            return self.start <= at < self.end
        return at >= self.start or at < self.end


class ParkingZoneConfig(BaseModel):
    """A zone's parking rule (``zones[].parking``); zones of kind no_parking/fire_lane get defaults."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    limit_s: float = Field(300.0, gt=0, description="how long a vehicle may stand still in the zone")
    schedule: list[TimeWindowLimit] = Field(
        default_factory=list, description="time-of-day limits; the first window covering the local time wins"
    )
    max_move_m: float = Field(1.5, gt=0, description="movement (metres, calibrated cameras) that restarts the clock")
    max_move_px: float = Field(30.0, gt=0, description="movement (pixels, uncalibrated) that restarts the clock")
    occlusion_s: float = Field(20.0, ge=0, description="how long a vehicle may go unseen before it counts as gone")
    leave_s: float = Field(
        3.0, ge=0, description="how long a vehicle must be seen moved or outside the zone before it counts as such"
    )
    min_confidence: float = Field(0.3, ge=0, le=1, description="vehicle boxes below this score are ignored")
    match_iou: float = Field(0.3, gt=0, le=1, description="overlap that re-identifies an unseen or re-tracked vehicle")

    def limit_at(self, wall: datetime | None) -> float:
        if wall is not None:
            for window in self.schedule:
                if window.covers(wall.time()):
                    return window.limit_s
        return self.limit_s


@dataclass
class ParkedVehicle:
    id: int
    zone_id: str
    box: np.ndarray
    origin: np.ndarray  # anchor (pixels) where the dwell clock started
    since: float
    last_seen: float
    track_ids: set[int] = field(default_factory=set)
    in_zone: bool = True
    confidence: float = 0.0
    moved_since: float | None = None  # first frame of the current run seen away from ``origin``
    outside_since: float | None = None  # first frame of the current run seen outside the zone
    over_clock: float | None = None  # the ``since`` whose dwell passed the limit: over while it runs

    @property
    def settled(self) -> bool:
        """In the zone and, when last seen, where its clock started: it may pass its limit (a vehicle
        last seen driving does not, while it is out of sight)."""
        return self.in_zone and self.moved_since is None and self.outside_since is None


def iou_matrix(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    if len(a) == 0 or len(b) == 0:
        return np.zeros((len(a), len(b)), np.float32)
    lt = np.maximum(a[:, None, :2], b[None, :, :2])
    rb = np.minimum(a[:, None, 2:], b[None, :, 2:])
    inter = np.prod(np.clip(rb - lt, 0, None), axis=2)
    area = lambda x: np.prod(x[:, 2:] - x[:, :2], axis=1)  # noqa: E731
    return inter / (area(a)[:, None] + area(b)[None, :] - inter + 1e-9)


def nms_any_class(dets: Detections, iou: float) -> Detections:
    """NMS ignoring class: the higher-scoring of two overlapping vehicle boxes stays."""
    if len(dets) == 0:
        return dets
    kept = nms(Detections.from_arrays(dets.xyxy, dets.confidence, np.zeros(len(dets)), dets.class_names), iou)
    order = [int(np.nonzero((dets.xyxy == box).all(axis=1))[0][0]) for box in kept.xyxy]
    return dets[np.asarray(order, dtype=np.int64)]


def _run_start(since: float | None, holds: bool, t: float) -> float | None:
    """When the current run of frames where something ``holds`` began (None: it does not hold now)."""
    return (t if since is None else since) if holds else None


@dataclass
class ParkingRule:
    zones: list[tuple[Zone, ParkingZoneConfig]]
    update_interval_s: float = 60.0
    ground: GroundPlane | None = None
    _records: dict[str, list[ParkedVehicle]] = field(default_factory=dict)
    _confirmer: Confirmer = field(init=False)
    _next_id: int = 0
    _tracks_seen: dict[int, float] = field(default_factory=dict)  # track id -> last frame time it was seen

    def __post_init__(self) -> None:
        # k=1 and clear_s=0: the dwell limit is the confirmation and occlusion_s the clearing delay.
        self._confirmer = Confirmer(
            ConfirmConfig(k=1, n=1, update_interval_s=self.update_interval_s, clear_s=0.0, cooldown_s=0.0)
        )

    def update(self, detections: Detections, t: float, wall: datetime | None = None) -> list[AlertDecision]:
        # One vehicle is often boxed twice as car and truck: merge across vehicle classes.
        vehicles = nms_any_class(detections.of_classes(VEHICLES), 0.6)
        present: dict[int, bool] = {}
        by_key: dict[int, tuple[ParkedVehicle, ParkingZoneConfig]] = {}
        for zone, cfg in self.zones:
            for rec in self._observe_zone(zone, cfg, vehicles.above(cfg.min_confidence), t):
                if rec.settled and rec.over_clock != rec.since and t - rec.since >= cfg.limit_at(wall):
                    rec.over_clock = rec.since
                present[rec.id] = rec.in_zone and rec.over_clock == rec.since
                by_key[rec.id] = (rec, cfg)
        self._remember_tracks(vehicles, t)
        out = []
        for key, phase in self._confirmer.step_all(t, present):
            rec, cfg = by_key.get(key, (None, None))  # type: ignore[arg-type]
            if rec is None:
                continue
            out.append(self._decision(phase, rec, cfg, t, wall))
        self._drop_gone(t)
        return out

    def _observe_zone(self, zone: Zone, cfg: ParkingZoneConfig, vehicles: Detections, t: float) -> list[ParkedVehicle]:
        records = self._records.setdefault(zone.id, [])
        inside = zone.contains(vehicles)
        matched = self._match(records, vehicles, cfg)
        used = set()
        for det_i, rec in matched.items():
            used.add(det_i)
            self._refresh(rec, vehicles, det_i, bool(inside[det_i]), cfg, t)
        for i in range(len(vehicles)):
            if i not in used and inside[i]:
                records.append(self._new_record(zone.id, vehicles, i, t))
        for rec in records:
            if rec.last_seen < t - cfg.occlusion_s:
                rec.in_zone = False
        return records

    def _match(self, records: list[ParkedVehicle], vehicles: Detections, cfg: ParkingZoneConfig) -> dict[int, ParkedVehicle]:
        """Detection index -> record: by track id first, then by best overlap, for a box whose track is
        new (or untracked) and whose anchor stands where the record's vehicle stood (a vehicle driving
        past in front overlaps a parked one, but was seen before and does not stand there)."""
        out: dict[int, ParkedVehicle] = {}
        taken: set[int] = set()
        tids = vehicles.tracker_id if vehicles.tracker_id is not None else np.full(len(vehicles), -1)
        known = self._tracks_seen
        for i, tid in enumerate(tids):
            for rec in records:
                if tid >= 0 and tid in rec.track_ids and rec.id not in taken:
                    out[i], _ = rec, taken.add(rec.id)
                    break
        free = [r for r in records if r.id not in taken]
        ious = iou_matrix(vehicles.xyxy, np.array([r.box for r in free]).reshape(-1, 4))
        anchors = vehicles.anchors()
        for i in np.argsort(-ious.max(axis=1) if ious.size else np.zeros(len(vehicles))):
            if i in out or not free or ious.size == 0 or int(tids[i]) in known:
                continue
            j = int(ious[i].argmax())
            if ious[i, j] >= cfg.match_iou and free[j].id not in taken and not self._moved(free[j].origin, anchors[i], cfg):
                out[int(i)] = free[j]
                taken.add(free[j].id)
        return out

    def _remember_tracks(self, vehicles: Detections, t: float) -> None:
        """Note the frame's track ids; forget those unseen for an hour (trackers do not reuse ids)."""
        if vehicles.tracker_id is not None:
            for tid in vehicles.tracker_id:
                if tid >= 0:
                    self._tracks_seen[int(tid)] = t
        if len(self._tracks_seen) > TRACKS_REMEMBERED:
            self._tracks_seen = {k: v for k, v in self._tracks_seen.items() if v >= t - TRACK_MEMORY_S}

    def _refresh(self, rec: ParkedVehicle, v: Detections, i: int, inside: bool, cfg: ParkingZoneConfig, t: float) -> None:
        anchor = v.anchors()[i]
        rec.moved_since = _run_start(rec.moved_since, self._moved(rec.origin, anchor, cfg), t)
        if rec.moved_since is not None and rec.moved_since <= t - cfg.leave_s:
            rec.origin, rec.since, rec.moved_since = anchor, t, None  # it drove: a new clock where it is now
        rec.outside_since = _run_start(rec.outside_since, not inside, t)
        rec.in_zone = rec.outside_since is None or rec.outside_since > t - cfg.leave_s
        rec.box, rec.last_seen = v.xyxy[i].copy(), t
        rec.confidence = max(rec.confidence, float(v.confidence[i]))
        if v.tracker_id is not None and v.tracker_id[i] >= 0:
            rec.track_ids.add(int(v.tracker_id[i]))

    def _moved(self, a: np.ndarray, b: np.ndarray, cfg: ParkingZoneConfig) -> bool:
        if self.ground is not None:
            return float(self.ground.distance_m(a[None], b[None])[0]) > cfg.max_move_m
        return float(np.linalg.norm(a - b)) > cfg.max_move_px

    def _new_record(self, zone_id: str, v: Detections, i: int, t: float) -> ParkedVehicle:
        self._next_id += 1
        tids = set() if v.tracker_id is None or v.tracker_id[i] < 0 else {int(v.tracker_id[i])}
        return ParkedVehicle(
            self._next_id, zone_id, v.xyxy[i].copy(), v.anchors()[i], t, t, tids, confidence=float(v.confidence[i])
        )

    def _drop_gone(self, t: float) -> None:
        """Forget records that left (or were lost) once their alert, if any, has ended."""
        for zone_id, records in self._records.items():
            self._records[zone_id] = [r for r in records if r.in_zone or self._confirmer.is_active(r.id)]

    def _decision(self, phase: str, rec: ParkedVehicle, cfg: ParkingZoneConfig, t: float, wall: datetime | None) -> AlertDecision:
        return AlertDecision(
            phase=phase,  # type: ignore[arg-type]
            category=CATEGORY,
            type=TYPE,
            zone_id=rec.zone_id,
            episode=f"{TYPE}/{rec.zone_id}/{rec.id}",
            t=t,
            confidence=round(rec.confidence, 3),
            attributes={
                "dwell_s": round((rec.last_seen if phase == "end" else t) - rec.since, 1),
                "track_id": min(rec.track_ids) if rec.track_ids else None,
                "track_ids": sorted(rec.track_ids),
                "zone": rec.zone_id,
                "limit_s": cfg.limit_at(wall),
            },
            boxes=rec.box[None].astype(np.float32),
        )
