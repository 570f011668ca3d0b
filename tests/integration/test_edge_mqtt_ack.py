"""A press whose handling fails (the spool's disk full, say) is not acknowledged: the broker keeps it
in the persistent session and delivers it again when the agent connects next. Real Mosquitto."""

from __future__ import annotations

import secrets
import threading

import paho.mqtt.publish as publish
import pytest

from edge.metrics import EdgeMetrics
from edge.mqtt import ButtonSubscriber
from gridwatch.settings import MqttSettings

from .test_api_support import wait_until

pytestmark = pytest.mark.integration


def subscriber(port: int, client_id: str, topic: str, handler, metrics: EdgeMetrics) -> ButtonSubscriber:  # type: ignore[no-untyped-def]
    sub = ButtonSubscriber(MqttSettings(port=port), [topic], handler, metrics, client_id=client_id)
    sub.start()
    assert sub.wait_connected(10), "subscribed"
    return sub


def test_a_message_whose_handler_keeps_failing_is_delivered_again_on_the_next_connection(mqtt_port: int) -> None:
    client_id, topic = f"gw-test-{secrets.token_hex(4)}", f"test/{secrets.token_hex(4)}/btn"
    tries: list[bytes] = []

    def broken(topic: str, payload: bytes) -> None:
        tries.append(payload)
        raise OSError("database or disk is full")

    metrics = EdgeMetrics()
    first = subscriber(mqtt_port, client_id, topic, broken, metrics)
    publish.single(topic, b'{"action":"single"}', qos=1, port=mqtt_port)
    wait_until(lambda: metrics.mqtt_messages.labels("failed")._value.get() == 1, what="the failure counted")
    first.stop()
    assert tries == [b'{"action":"single"}'] * 3  # tried three times, then left unacknowledged

    handled = threading.Event()
    received: list[bytes] = []

    def working(topic: str, payload: bytes) -> None:
        received.append(payload)
        handled.set()

    second = subscriber(mqtt_port, client_id, topic, working, EdgeMetrics())
    try:
        assert handled.wait(10), "the broker delivered the unacknowledged press again"
    finally:
        second.stop()
    assert received == [b'{"action":"single"}']

    # Acknowledged now: a third connection of the same session receives nothing.
    again: list[bytes] = []
    third = subscriber(mqtt_port, client_id, topic, lambda t, p: again.append(p), EdgeMetrics())
    threading.Event().wait(1.0)
    third.stop()
    assert again == []
