"""Device liveness: one device_offline alert per silence, back online, periodic heartbeats (pure)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from itertools import count

import pytest

from edge.heartbeat import Device, LivenessTracker
from gridwatch.contracts import Alert, Heartbeat

T0 = datetime(2026, 9, 9, 6, 0, tzinfo=timezone.utc)
CAMERA = Device("cam-0012", "camera", 37.86143, 112.55340, offline_after_s=120)
BUTTON = Device("btn-gate-east", "button", 37.86151, 112.55362, offline_after_s=90_000)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


@pytest.fixture
def tracker() -> LivenessTracker:
    ids = count(1)
    tracker = LivenessTracker("yz-jinsong-01", interval_s=30, new_id=lambda: f"a-{next(ids)}")
    tracker.register(CAMERA, T0)
    return tracker


def test_empty_tracker_reports_nothing() -> None:
    assert LivenessTracker("site", 30).due(T0).alerts == []
    assert LivenessTracker("site", 30).due(T0).heartbeats == []


def test_silent_device_raises_exactly_one_offline_alert(tracker: LivenessTracker) -> None:
    tracker.seen("cam-0012", at(0))
    assert tracker.due(at(119.9)).alerts == []
    report = tracker.due(at(120))
    assert report.alerts == [
        Alert(
            id="a-1", category="device", type="device_offline", device_id="cam-0012", site_id="yz-jinsong-01",
            lat=37.86143, lon=112.55340, observed_at=at(120), confidence=1.0,
            attributes={"last_seen": "2026-09-09T06:00:00.000Z", "silent_s": 120.0, "device_type": "camera",
                        "reason": "silent for over 120 s"},
        )
    ]
    assert [(h.device_id, h.status) for h in report.heartbeats] == [("cam-0012", "offline")]
    assert not tracker.is_online("cam-0012")
    for later in (121, 300, 3600):
        assert tracker.due(at(later)).alerts == [], "a dead camera must not flood the dispatchers"


def test_device_never_seen_counts_its_silence_from_registration(tracker: LivenessTracker) -> None:
    report = tracker.due(at(120))
    assert [a.device_id for a in report.alerts] == ["cam-0012"]
    assert report.alerts[0].attributes["last_seen"] is None
    assert report.alerts[0].attributes["silent_s"] == 120.0


def test_device_coming_back_sends_online_heartbeat_and_no_alert(tracker: LivenessTracker) -> None:
    tracker.seen("cam-0012", at(0))
    tracker.due(at(0))
    assert len(tracker.due(at(130)).alerts) == 1
    tracker.seen("cam-0012", at(200))
    report = tracker.due(at(200.5))
    assert report.alerts == []
    assert [(h.status, h.seen_at) for h in report.heartbeats] == [("online", at(200))]
    assert tracker.is_online("cam-0012")


def test_a_new_silence_after_recovery_raises_a_new_alert(tracker: LivenessTracker) -> None:
    tracker.seen("cam-0012", at(0))
    first = tracker.due(at(120)).alerts
    tracker.seen("cam-0012", at(150))
    tracker.due(at(151))
    second = tracker.due(at(270)).alerts
    assert len(first) == len(second) == 1
    assert first[0].id != second[0].id


def test_online_devices_heartbeat_every_interval(tracker: LivenessTracker) -> None:
    tracker.seen("cam-0012", at(0), {"fps": 10})
    first = tracker.due(at(0))
    assert first.heartbeats == [
        Heartbeat(device_id="cam-0012", site_id="yz-jinsong-01", device_type="camera", seen_at=at(0),
                  status="online", attributes={"fps": 10})
    ]
    assert tracker.due(at(29)).heartbeats == []
    tracker.seen("cam-0012", at(29.5))
    assert [h.seen_at for h in tracker.due(at(30)).heartbeats] == [at(29.5)]


def test_device_never_seen_gets_no_heartbeat(tracker: LivenessTracker) -> None:
    assert tracker.due(at(0)).heartbeats == []


def test_each_device_has_its_own_offline_threshold(tracker: LivenessTracker) -> None:
    tracker.register(BUTTON, T0)
    tracker.seen("cam-0012", at(0))
    tracker.seen("btn-gate-east", at(0))
    assert [a.device_id for a in tracker.due(at(3600)).alerts] == ["cam-0012"]
    assert [a.device_id for a in tracker.due(at(90_000)).alerts] == ["btn-gate-east"]


def test_bridge_saying_offline_raises_the_alert_at_once(tracker: LivenessTracker) -> None:
    tracker.register(BUTTON, T0)
    tracker.seen("btn-gate-east", at(0))
    tracker.bridge_offline("btn-gate-east", at(5))
    alerts = tracker.due(at(6)).alerts
    assert [(a.device_id, a.attributes["reason"]) for a in alerts] == [("btn-gate-east", "bridge reports offline")]
    tracker.seen("btn-gate-east", at(10))
    assert [h.status for h in tracker.due(at(11)).heartbeats] == ["online"]


def test_sign_of_life_after_the_bridge_said_offline_wins(tracker: LivenessTracker) -> None:
    tracker.register(BUTTON, T0)
    tracker.bridge_offline("btn-gate-east", at(5))
    tracker.seen("btn-gate-east", at(6))
    assert tracker.due(at(7)).alerts == []


def test_late_sign_of_life_does_not_move_last_seen_back(tracker: LivenessTracker) -> None:
    tracker.seen("cam-0012", at(100))
    tracker.seen("cam-0012", at(10))
    assert tracker.due(at(200)).alerts == []


def test_unknown_devices_are_refused() -> None:
    tracker = LivenessTracker("site", 30)
    assert tracker.seen("ghost", T0) is False
    assert tracker.bridge_offline("ghost", T0) is False
    assert tracker.status() == {}


def test_a_device_whose_alerts_are_raised_elsewhere_still_heartbeats_offline() -> None:
    """Cameras: edge.camera_health raises camera_offline; the tracker only reports their state."""
    tracker = LivenessTracker("yz-jinsong-01", interval_s=30)
    tracker.register(Device("cam-0012", "camera", 37.86, 112.55, offline_after_s=120, raises_alert=False), T0)
    report = tracker.due(at(120))
    assert report.alerts == []
    assert [(h.device_id, h.status) for h in report.heartbeats] == [("cam-0012", "offline")]
    assert tracker.status() == {"cam-0012": False}
