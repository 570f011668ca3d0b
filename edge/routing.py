"""Where each button message goes: presses to Kafka, signs of life to the tracker, rejects to dead letters.

Kept apart from the MQTT client so it runs in tests with a list sink and no broker, and apart from
``buttons.py`` because it has effects (publishing, counting, logging). A rejected message never
stops the agent: it is logged with its reason, counted by reason code and sent to the dead-letter
topic with the raw payload, so an installer can see exactly what the device sent.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timezone
from typing import Protocol

import structlog

from edge.buttons import ButtonDecoder, ButtonIgnored, ButtonOutcome, ButtonPress, ButtonRejected, ButtonStatus
from edge.heartbeat import LivenessTracker
from edge.metrics import EdgeMetrics
from gridwatch.contracts import Alert, Heartbeat
from gridwatch.deadletter import DeadLetter

log = structlog.get_logger(__name__)

# Kafka's default message limit is 1 MB; a dead letter keeps the start of a huge payload, not all of it.
MAX_DEADLETTER_PAYLOAD = 64 * 1024

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(timezone.utc)


class EventSink(Protocol):
    """What the router publishes to; ``edge.publisher.Publisher`` in the agent, a list in tests."""

    def publish_alert(self, alert: Alert) -> object: ...

    def publish_heartbeat(self, heartbeat: Heartbeat) -> object: ...

    def publish_deadletter(self, letter: DeadLetter) -> object: ...


class ButtonRouter:
    """Decodes one MQTT message and acts on the outcome; safe to call from the MQTT thread."""

    def __init__(
        self, decoder: ButtonDecoder, tracker: LivenessTracker, sink: EventSink, metrics: EdgeMetrics,
        clock: Clock = utc_now,
    ) -> None:
        self._decoder = decoder
        self._tracker = tracker
        self._sink = sink
        self._metrics = metrics
        self._clock = clock

    def handle(self, topic: str, payload: bytes) -> ButtonOutcome:
        received_at = self._clock()
        outcome = self._decoder.decode(topic, payload, received_at)
        if isinstance(outcome, ButtonPress):
            self._on_press(outcome, received_at)
        elif isinstance(outcome, ButtonStatus):
            self._on_status(outcome)
        elif isinstance(outcome, ButtonIgnored):
            self._tracker.seen(outcome.device_id, received_at)
            self._metrics.mqtt_messages.labels("ignored").inc()
        else:
            self._on_rejected(outcome, payload, received_at)
        return outcome

    def _on_press(self, press: ButtonPress, received_at: datetime) -> None:
        battery = press.alert.attributes.get("battery")
        self._tracker.seen(press.device_id, received_at, {"battery": battery} if battery is not None else None)
        self._sink.publish_alert(press.alert)
        self._metrics.mqtt_messages.labels("press").inc()

    def _on_status(self, status: ButtonStatus) -> None:
        if status.online:
            self._tracker.seen(status.device_id, status.at, status.attributes)
        else:
            self._tracker.bridge_offline(status.device_id, status.at)
        self._metrics.mqtt_messages.labels("status").inc()

    def _on_rejected(self, rejected: ButtonRejected, payload: bytes, received_at: datetime) -> None:
        if rejected.device_id is not None:
            self._tracker.seen(rejected.device_id, received_at)  # garbage, but a sign of life
        self._metrics.mqtt_messages.labels("rejected").inc()
        self._metrics.mqtt_rejected.labels(rejected.code).inc()
        log.warning("button message rejected", topic=rejected.topic, code=rejected.code, reason=rejected.reason,
                    device_id=rejected.device_id, size=len(payload))
        self._sink.publish_deadletter(deadletter_for(rejected, payload))


def deadletter_for(rejected: ButtonRejected, payload: bytes) -> DeadLetter:
    """The dead letter of a rejected MQTT message: raw payload (truncated if huge), reason, topic."""
    context: dict[str, object] = {"code": rejected.code}
    if len(payload) > MAX_DEADLETTER_PAYLOAD:
        context.update(truncated=True, original_size=len(payload))
        payload = payload[:MAX_DEADLETTER_PAYLOAD]
    return DeadLetter.from_bytes(
        "mqtt", rejected.reason, payload, topic=rejected.topic, key=rejected.device_id, context=context
    )
