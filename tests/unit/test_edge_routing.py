"""Where button outcomes go: alerts, liveness, dead letters (edge/routing.py with a list sink)."""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from datetime import datetime, timezone

import pytest

from edge.buttons import ButtonDecoder
from edge.config import ButtonConfig
from edge.heartbeat import Device, LivenessTracker
from edge.metrics import EdgeMetrics
from edge.routing import MAX_DEADLETTER_PAYLOAD, ButtonRouter
from gridwatch.contracts import Alert, Heartbeat
from gridwatch.deadletter import DeadLetter

T0 = datetime(2026, 9, 9, 6, 0, tzinfo=timezone.utc)
TOPIC = "zigbee2mqtt/btn-gate-east"
BUTTON = ButtonConfig(id="btn-gate-east", topic=TOPIC, payload="zigbee2mqtt", lat=37.86151, lon=112.55362)


@dataclass
class ListSink:
    alerts: list[Alert] = field(default_factory=list)
    heartbeats: list[Heartbeat] = field(default_factory=list)
    deadletters: list[DeadLetter] = field(default_factory=list)

    def publish_alert(self, alert: Alert) -> None:
        self.alerts.append(alert)

    def publish_heartbeat(self, heartbeat: Heartbeat) -> None:
        self.heartbeats.append(heartbeat)

    def publish_deadletter(self, letter: DeadLetter) -> None:
        self.deadletters.append(letter)


@dataclass
class Rig:
    router: ButtonRouter
    sink: ListSink
    tracker: LivenessTracker
    metrics: EdgeMetrics

    def sample(self, name: str, **labels: str) -> float | None:
        return self.metrics.registry.get_sample_value(name, labels)


@pytest.fixture
def rig() -> Rig:
    tracker = LivenessTracker("site-1", interval_s=30)
    tracker.register(Device("btn-gate-east", "button", BUTTON.lat, BUTTON.lon, offline_after_s=120), T0)
    sink, metrics = ListSink(), EdgeMetrics()
    router = ButtonRouter(ButtonDecoder("site-1", [BUTTON]), tracker, sink, metrics, clock=lambda: T0)
    return Rig(router, sink, tracker, metrics)


def test_press_is_published_and_counts_as_a_sign_of_life(rig: Rig) -> None:
    rig.router.handle(TOPIC, b'{"action": "single", "battery": 80}')
    assert [(a.type, a.device_id, a.observed_at) for a in rig.sink.alerts] == [("alarm_button", "btn-gate-east", T0)]
    assert rig.sink.deadletters == []
    heartbeats = rig.tracker.due(T0).heartbeats
    assert [(h.device_id, h.attributes) for h in heartbeats] == [("btn-gate-east", {"battery": 80})]
    assert rig.sample("gridwatch_edge_mqtt_messages_total", outcome="press") == 1


def test_rejected_message_becomes_a_dead_letter_with_its_reason(rig: Rig) -> None:
    rig.router.handle(TOPIC, b'{"action": "triple"}')
    assert rig.sink.alerts == []
    [letter] = rig.sink.deadletters
    assert letter.source == "mqtt"
    assert letter.topic == TOPIC and letter.key == "btn-gate-east"
    assert letter.payload == '{"action": "triple"}'
    assert "action 'triple' is not configured for button btn-gate-east" in letter.reason
    assert letter.context == {"code": "unknown_action"}
    assert rig.sample("gridwatch_edge_mqtt_rejected_total", reason="unknown_action") == 1


def test_undecodable_bytes_are_kept_as_base64(rig: Rig) -> None:
    rig.router.handle(TOPIC, b"\xff\xfe\x00")
    [letter] = rig.sink.deadletters
    assert base64.b64decode(letter.payload) == b"\xff\xfe\x00"
    assert letter.context["encoding"] == "base64"


def test_huge_payload_is_truncated_in_the_dead_letter(rig: Rig) -> None:
    rig.router.handle(TOPIC, b"x" * (MAX_DEADLETTER_PAYLOAD + 10))
    [letter] = rig.sink.deadletters
    assert len(letter.payload) == MAX_DEADLETTER_PAYLOAD
    assert letter.context["truncated"] is True and letter.context["original_size"] == MAX_DEADLETTER_PAYLOAD + 10


def test_good_press_after_a_bad_one_still_goes_through(rig: Rig) -> None:
    rig.router.handle(TOPIC, b"garbage")
    rig.router.handle(TOPIC, b'{"action": "double"}')
    assert len(rig.sink.deadletters) == 1
    assert [a.attributes["press"] for a in rig.sink.alerts] == ["double"]


def test_bridge_offline_reaches_the_tracker(rig: Rig) -> None:
    rig.router.handle(TOPIC + "/availability", b'{"state": "offline"}')
    assert [a.type for a in rig.tracker.due(T0).alerts] == ["device_offline"]
    assert rig.sink.alerts == [] and rig.sink.deadletters == []


def test_ignored_action_publishes_nothing(rig: Rig) -> None:
    rig.router.handle(TOPIC, b'{"action": "release"}')
    assert (rig.sink.alerts, rig.sink.deadletters) == ([], [])
    assert rig.sample("gridwatch_edge_mqtt_messages_total", outcome="ignored") == 1
