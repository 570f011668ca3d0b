"""Detector decisions to contract ``Alert``s (CONTRACTS.md): ids, position, time, attributes.

Pure apart from one small per-camera ``AlertIds`` object that numbers each episode's messages.
Ids are uuid5 of what identifies a message (camera, rule, zone, episode, when the episode began,
phase and sequence number), never random: re-running a recorded video, retrying a send or
replaying the spool yields the same ids, so the ingest counts each message once. The episode's
start time is part of the key because rules number their episodes from 1 on every start of the
edge; without it, a live camera's first alert after a restart would reuse yesterday's id.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

import numpy as np

from detectors.types import AlertDecision
from edge.config import CameraConfig, ZoneConfig
from gridwatch.contracts import Alert, format_time

# Fixed namespace for alert ids; changing it would change every id ever derived.
ALERT_NAMESPACE = uuid.UUID("5f0c2b1e-8a4d-5e7b-9c3f-6d1a2e4b7c90")
EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


def video_time(start: datetime, t: float) -> datetime:
    """Map ``t`` seconds on a file's own time base onto ``start``, so output does not depend on
    when or how fast the file was processed."""
    return start + timedelta(seconds=t)


def alert_id(camera_id: str, decision: AlertDecision, episode_started: datetime, seq: int) -> str:
    """Deterministic id of one message of one episode (see the module docstring for why)."""
    key = "|".join(
        [camera_id, decision.type, decision.zone_id or "-", decision.episode,
         format_time(episode_started), decision.phase, str(seq)]
    )
    return "a-" + uuid.uuid5(ALERT_NAMESPACE, key).hex


@dataclass
class _Episode:
    started: datetime
    sent: int = 0


@dataclass
class AlertIds:
    """Numbers each episode's messages (start 0, updates 1.., end last) and remembers when it began.

    One per camera; state is only what an open episode needs, dropped once the episode ends.
    """

    camera_id: str
    _open: dict[str, _Episode] = field(default_factory=dict)

    def next_id(self, decision: AlertDecision, observed_at: datetime) -> str:
        episode = self._open.get(decision.episode)
        if episode is None or decision.phase == "start":
            episode = self._open[decision.episode] = _Episode(observed_at)
        new_id = alert_id(self.camera_id, decision, episode.started, episode.sent)
        episode.sent += 1
        if decision.phase == "end":
            del self._open[decision.episode]
        return new_id


def zone_by_id(camera: CameraConfig, zone_id: str | None) -> ZoneConfig | None:
    return next((z for z in camera.zones if z.id == zone_id), None)


def position(camera: CameraConfig, zone_id: str | None) -> tuple[float, float]:
    """Where the thing is: the zone's map position when configured, else the camera's own."""
    zone = zone_by_id(camera, zone_id)
    if zone is not None and zone.lat is not None and zone.lon is not None:
        return zone.lat, zone.lon
    return camera.lat, camera.lon


def _boxes(boxes: np.ndarray) -> list[list[int]]:
    return [[int(round(float(v))) for v in box] for box in np.asarray(boxes).reshape(-1, 4)]


def alert_attributes(
    camera_id: str, decision: AlertDecision, snapshot: str | None = None
) -> dict[str, Any]:
    """The rule's own numbers plus what a dispatcher needs to tell episodes and phases apart.

    ``track_id`` becomes ``camera:track`` (as in CONTRACTS.md) because track numbers are only
    unique within one camera.
    """
    attrs: dict[str, Any] = dict(decision.attributes)
    attrs.update(phase=decision.phase, zone=decision.zone_id, episode=decision.episode,
                 video_t_s=round(decision.t, 3), boxes=_boxes(decision.boxes))
    track = attrs.get("track_id")
    attrs["track_id"] = f"{camera_id}:{track}" if track is not None else None
    if snapshot is not None:
        attrs["snapshot"] = snapshot
    return attrs


def to_alert(
    decision: AlertDecision,
    camera: CameraConfig,
    site_id: str,
    observed_at: datetime,
    alert_id: str,
    snapshot: str | None = None,
) -> Alert:
    """Build the contract ``Alert`` for one decision; ``alert_id`` comes from ``AlertIds``."""
    lat, lon = position(camera, decision.zone_id)
    return Alert(
        id=alert_id,
        category=decision.category,
        type=decision.type,
        device_id=camera.id,
        site_id=site_id,
        lat=lat,
        lon=lon,
        observed_at=observed_at,
        confidence=min(1.0, max(0.0, float(decision.confidence))),
        attributes=alert_attributes(camera.id, decision, snapshot),
    )
