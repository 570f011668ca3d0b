"""Which devices are alive: periodic heartbeats, one ``device_offline`` alert per silence (pure).

Time comes in as arguments (``seen(device, at)``, ``due(now)``), so the rules are tested without a
clock and replay the same way every time. A device is offline when it has been silent for its
``offline_after_s`` or when its bridge says so (Zigbee2MQTT availability ``offline``).

Design choices:

- One ``device_offline`` alert per silence, not one per check: the ingest turns each alert into
  incident evidence, and a dead camera must not flood the dispatchers' queue.
- Coming back online sends a ``Heartbeat`` with ``status="online"`` at once, but no alert: an
  alert would open a new incident for good news. The heartbeats topic is where the ingest learns
  that the device recovered and can resolve the open ``device_offline`` incident.
- Cameras are tracked here for their heartbeats (online/offline) only: ``edge.camera_health``
  raises their alerts (``camera_offline``, with an ``end`` when frames return, and ``camera_fault``),
  so ``Device.raises_alert`` is False for them.
- State lives in memory: after a restart every device counts from the restart, and a device that
  stays dead raises one new ``device_offline`` alert (the ingest merges it into the open incident).

The tracker holds a lock because MQTT, camera and heartbeat threads all report to it; that is the
only concession to its callers, and no method blocks or performs I/O.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from edge.buttons import IdFactory, new_alert_id
from gridwatch.contracts import Alert, Heartbeat, format_time

DeviceType = Literal["button", "camera", "edge"]
OFFLINE_CATEGORY = "device"
OFFLINE_TYPE = "device_offline"


@dataclass(frozen=True)
class Device:
    device_id: str
    device_type: DeviceType
    lat: float
    lon: float
    offline_after_s: float
    raises_alert: bool = True  # False: heartbeats only, another component raises the offline alert


@dataclass
class _DeviceState:
    device: Device
    since: datetime  # registration: a device never seen counts its silence from here
    last_seen: datetime | None = None
    attributes: dict[str, Any] = field(default_factory=dict)
    online: bool = True  # as last reported downstream
    went_offline_at: datetime | None = None
    bridge_offline_at: datetime | None = None  # the bridge said "offline" at this time
    last_heartbeat_at: datetime | None = None

    def silent_s(self, now: datetime) -> float:
        return (now - (self.last_seen or self.since)).total_seconds()

    def seen_since(self, moment: datetime | None) -> bool:
        return self.last_seen is not None and (moment is None or self.last_seen > moment)


@dataclass(frozen=True)
class LivenessReport:
    """What ``due`` found: alerts for devices that just went silent, and heartbeats to send."""

    alerts: list[Alert] = field(default_factory=list)
    heartbeats: list[Heartbeat] = field(default_factory=list)


class LivenessTracker:
    """Tracks each registered device's last sign of life and decides what to report."""

    def __init__(self, site_id: str, interval_s: float, new_id: IdFactory = new_alert_id) -> None:
        self.site_id = site_id
        self.interval_s = interval_s
        self._new_id = new_id
        self._devices: dict[str, _DeviceState] = {}
        self._lock = threading.Lock()

    def register(self, device: Device, now: datetime) -> None:
        with self._lock:
            self._devices[device.device_id] = _DeviceState(device, since=now)

    def seen(self, device_id: str, at: datetime, attributes: dict[str, Any] | None = None) -> bool:
        """Record a sign of life; returns False for a device that was never registered."""
        with self._lock:
            state = self._devices.get(device_id)
            if state is None:
                return False
            if state.last_seen is None or at > state.last_seen:
                state.last_seen = at
            state.attributes.update(attributes or {})
            return True

    def bridge_offline(self, device_id: str, at: datetime) -> bool:
        """The device's bridge reports it unreachable; the next ``due`` raises the alert."""
        with self._lock:
            state = self._devices.get(device_id)
            if state is None:
                return False
            state.bridge_offline_at = at
            return True

    def is_online(self, device_id: str) -> bool:
        with self._lock:
            return self._devices[device_id].online

    def status(self) -> dict[str, bool]:
        """Each device's online state as last reported, for the health endpoint."""
        with self._lock:
            return {device_id: state.online for device_id, state in self._devices.items()}

    def due(self, now: datetime) -> LivenessReport:
        """Transitions and periodic heartbeats as of ``now``; call it about once a second."""
        report = LivenessReport()
        with self._lock:
            for state in self._devices.values():
                self._evaluate(state, now, report)
        return report

    def _evaluate(self, state: _DeviceState, now: datetime, report: LivenessReport) -> None:
        if state.online and self._is_silent(state, now):
            state.online, state.went_offline_at = False, now
            if state.device.raises_alert:
                report.alerts.append(self._offline_alert(state, now))
            report.heartbeats.append(self._heartbeat(state, now, "offline"))
        elif not state.online and state.seen_since(state.went_offline_at) and not self._is_silent(state, now):
            state.online, state.went_offline_at = True, None
            report.heartbeats.append(self._heartbeat(state, now, "online"))
        elif state.online and state.last_seen is not None and self._heartbeat_due(state, now):
            report.heartbeats.append(self._heartbeat(state, now, "online"))

    def _is_silent(self, state: _DeviceState, now: datetime) -> bool:
        bridge_says_offline = state.bridge_offline_at is not None and not state.seen_since(state.bridge_offline_at)
        return bridge_says_offline or state.silent_s(now) >= state.device.offline_after_s

    def _heartbeat_due(self, state: _DeviceState, now: datetime) -> bool:
        last = state.last_heartbeat_at
        return last is None or (now - last).total_seconds() >= self.interval_s

    def _heartbeat(self, state: _DeviceState, now: datetime, status: Literal["online", "offline"]) -> Heartbeat:
        state.last_heartbeat_at = now
        return Heartbeat(
            device_id=state.device.device_id,
            site_id=self.site_id,
            device_type=state.device.device_type,
            seen_at=state.last_seen or state.since,
            status=status,
            attributes=dict(state.attributes),
        )

    def _offline_alert(self, state: _DeviceState, now: datetime) -> Alert:
        device = state.device
        bridge = state.bridge_offline_at is not None and not state.seen_since(state.bridge_offline_at)
        return Alert(
            id=self._new_id(),
            category=OFFLINE_CATEGORY,
            type=OFFLINE_TYPE,
            device_id=device.device_id,
            site_id=self.site_id,
            lat=device.lat,
            lon=device.lon,
            observed_at=now,
            confidence=1.0,
            attributes={
                "last_seen": format_time(state.last_seen) if state.last_seen else None,
                "silent_s": round(state.silent_s(now), 3),
                "device_type": device.device_type,
                "reason": "bridge reports offline" if bridge else f"silent for over {device.offline_after_s:g} s",
            },
        )
