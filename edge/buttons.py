"""Alarm-button MQTT messages to presses, signs of life or rejections (pure: no I/O, no clock).

A button talks in one of two payload formats, chosen per button in the site file:

- GridWatch's own: ``{"event": "press", "press": "single", "pressed_at": "2026-...Z"}`` and
  ``{"event": "heartbeat", "battery": 87}``;
- Zigbee2MQTT's: ``{"action": "single", "battery": 90, "linkquality": 120}``, where an empty or
  absent ``action`` is a periodic state report, plus availability on ``<topic>/availability``
  (``{"state": "online"}`` or, in Zigbee2MQTT's legacy mode, the bare word ``online``).

Every message gets exactly one outcome, so the caller can count and dead-letter rejections with
the reason in words an installer can act on. The alert id is drawn once, here, when the press
is first seen: the spool and every retry carry that id, so the ingest can drop replays.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from edge.config import ButtonConfig
from gridwatch.contracts import Alert, UtcTime, format_time
from gridwatch.deadletter import explain

AVAILABILITY_SUFFIX = "/availability"
PRESS_CATEGORY = "alarm"

IdFactory = Callable[[], str]
Battery = float | None

# A button cannot press in the future; beyond this skew its clock is wrong, and the receive time is
# used instead. An alarm is never rejected for a clock fault: someone may be at the gate.
MAX_CLOCK_AHEAD = timedelta(seconds=60)
# A press the broker queued while the agent was down arrives late, by hours at most; one stamped more
# than a day before it arrived comes from a clock that was reset (a battery swap: 1970, 2000).
MAX_CLOCK_BEHIND = timedelta(hours=24)


def new_alert_id() -> str:
    """A fresh alert id, ``a-`` and 32 hex digits (contract: unique and stable across retries)."""
    return "a-" + uuid.uuid4().hex


@dataclass(frozen=True)
class ButtonPress:
    """A press that is an alarm; ``alert`` already carries its final id."""

    alert: Alert

    @property
    def device_id(self) -> str:
        return self.alert.device_id


@dataclass(frozen=True)
class ButtonStatus:
    """A sign of life (state report, heartbeat, availability) or an explicit ``offline``."""

    device_id: str
    at: datetime
    online: bool
    attributes: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ButtonIgnored:
    """A well-formed message that is neither an alarm nor an error (a long press's ``release``)."""

    device_id: str
    at: datetime
    reason: str


@dataclass(frozen=True)
class ButtonRejected:
    """A message GridWatch cannot use.

    ``reason`` says what is wrong in words (for the dead-letter topic and the log); ``code`` is one
    of a few fixed words (``REJECT_CODES``), safe to use as a metric label.
    """

    topic: str
    code: str
    reason: str
    device_id: str | None = None


REJECT_CODES = ("empty", "not_json", "not_object", "invalid_fields", "unknown_action", "unknown_topic")


class PayloadError(ValueError):
    """Why a payload is not a JSON object, with the rejection code."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


ButtonOutcome = ButtonPress | ButtonStatus | ButtonIgnored | ButtonRejected


class _Payload(BaseModel):
    # Devices and bridges add fields over firmware versions (voltage, update, ...): pass them by.
    model_config = ConfigDict(extra="ignore", strict=True, frozen=True)

    battery: float | None = Field(None, ge=0, le=100, description="percent")


class GridWatchPayload(_Payload):
    event: Literal["press", "heartbeat"]
    press: str | None = Field(None, min_length=1)
    pressed_at: UtcTime | None = None


class Zigbee2MqttPayload(_Payload):
    action: str | None = None
    linkquality: int | None = Field(None, ge=0, le=255)


class Zigbee2MqttAvailability(BaseModel):
    model_config = ConfigDict(extra="ignore", strict=True, frozen=True)

    state: Literal["online", "offline"]


class ButtonDecoder:
    """Decodes messages for the buttons of one site; ``decode`` never raises on bad input."""

    def __init__(self, site_id: str, buttons: Iterable[ButtonConfig], new_id: IdFactory = new_alert_id) -> None:
        self.site_id = site_id
        self._by_topic: Mapping[str, ButtonConfig] = {b.topic: b for b in buttons}
        self._new_id = new_id

    def subscriptions(self) -> list[str]:
        """MQTT topics to subscribe: each button's own and its availability topic."""
        return [t for topic in self._by_topic for t in (topic, topic + AVAILABILITY_SUFFIX)]

    def decode(self, topic: str, payload: bytes, received_at: datetime) -> ButtonOutcome:
        button = self._by_topic.get(topic)
        if button is not None:
            return self._decode_message(button, topic, payload, received_at)
        if topic.endswith(AVAILABILITY_SUFFIX):
            button = self._by_topic.get(topic[: -len(AVAILABILITY_SUFFIX)])
            if button is not None:
                return decode_availability(button, topic, payload, received_at)
        return ButtonRejected(topic, "unknown_topic", f"no button is configured for MQTT topic {topic!r}")

    def _decode_message(self, button: ButtonConfig, topic: str, payload: bytes, at: datetime) -> ButtonOutcome:
        try:
            parse_json_object(payload)
        except PayloadError as exc:
            return ButtonRejected(topic, exc.code, f"button {button.id}: {exc}", button.id)
        if button.payload == "zigbee2mqtt":
            return self._decode_zigbee2mqtt(button, topic, payload, at)
        return self._decode_gridwatch(button, topic, payload, at)

    def _decode_gridwatch(self, button: ButtonConfig, topic: str, payload: bytes, at: datetime) -> ButtonOutcome:
        try:
            # JSON mode: strict about types (no "87" for 87), yet reads RFC 3339 strings as times.
            msg = GridWatchPayload.model_validate_json(payload)
        except ValidationError as exc:
            return _invalid(button, topic, "GridWatch", exc)
        if msg.event == "heartbeat":
            return ButtonStatus(button.id, at, True, _battery(msg.battery))
        if msg.press is None:
            reason = f"button {button.id}: a press event needs 'press' (e.g. \"single\")"
            return ButtonRejected(topic, "invalid_fields", reason, button.id)
        observed_at, note = _press_time(msg.pressed_at, at)
        return self._classify(button, topic, msg.press, msg.battery, observed_at, note)

    def _decode_zigbee2mqtt(self, button: ButtonConfig, topic: str, payload: bytes, at: datetime) -> ButtonOutcome:
        try:
            msg = Zigbee2MqttPayload.model_validate_json(payload)
        except ValidationError as exc:
            return _invalid(button, topic, "Zigbee2MQTT", exc)
        if not msg.action:
            attributes = _battery(msg.battery)
            if msg.linkquality is not None:
                attributes["linkquality"] = msg.linkquality
            return ButtonStatus(button.id, at, True, attributes)
        return self._classify(button, topic, msg.action, msg.battery, at)

    def _classify(
        self, button: ButtonConfig, topic: str, action: str, battery: Battery, observed_at: datetime,
        extra: dict[str, Any] | None = None,
    ) -> ButtonOutcome:
        if action in button.actions:
            attributes = {"press": action, "battery": _number(battery), "topic": topic, **(extra or {})}
            return ButtonPress(self._press_alert(button, button.actions[action], attributes, observed_at))
        if action in button.ignore_actions:
            return ButtonIgnored(button.id, observed_at, f"action {action!r} is in ignore_actions")
        return ButtonRejected(
            topic,
            "unknown_action",
            f"action {action!r} is not configured for button {button.id}; add it to actions or ignore_actions",
            button.id,
        )

    def _press_alert(
        self, button: ButtonConfig, alert_type: str, attributes: dict[str, Any], observed_at: datetime
    ) -> Alert:
        return Alert(
            id=self._new_id(),
            category=PRESS_CATEGORY,
            type=alert_type,
            device_id=button.id,
            site_id=self.site_id,
            lat=button.lat,
            lon=button.lon,
            observed_at=observed_at,
            confidence=1.0,
            attributes=attributes,
        )


def decode_availability(button: ButtonConfig, topic: str, payload: bytes, at: datetime) -> ButtonOutcome:
    """Zigbee2MQTT availability: ``{"state": "online"}`` or the legacy bare ``online``/``offline``."""
    text = payload.strip()
    if not text:
        # Zigbee2MQTT clears the retained message when a device is removed; nothing to report.
        return ButtonIgnored(button.id, at, "empty availability message (retained state cleared)")
    if text in (b"online", b"offline"):
        return ButtonStatus(button.id, at, text == b"online", {"availability": text.decode()})
    try:
        parse_json_object(payload)
        state = Zigbee2MqttAvailability.model_validate_json(payload).state
    except ValidationError as exc:
        return _invalid(button, topic, "availability", exc)
    except PayloadError as exc:
        return ButtonRejected(topic, exc.code, f"button {button.id}: availability {exc}", button.id)
    return ButtonStatus(button.id, at, state == "online", {"availability": state})


def parse_json_object(payload: bytes) -> dict[str, Any]:
    """Decode a JSON object; ``PayloadError`` says why not (empty, not UTF-8, not JSON, not an object)."""
    if not payload.strip():
        raise PayloadError("empty", "empty payload; expected a JSON object")
    try:
        value = json.loads(payload.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise PayloadError("not_json", f"payload is {explain(exc)}") from exc
    except RecursionError as exc:
        raise PayloadError("not_json", "payload is JSON nested too deeply to read") from exc
    except ValueError as exc:  # Python's own limits, e.g. an integer of more than 4300 digits
        raise PayloadError("not_json", f"payload is JSON Python cannot read: {exc}") from exc
    if not isinstance(value, dict):
        raise PayloadError("not_object", f"payload must be a JSON object, got a JSON {_json_kind(value)}")
    return value


def _invalid(button: ButtonConfig, topic: str, fmt: str, error: ValidationError) -> ButtonRejected:
    reason = f"button {button.id}: not a valid {fmt} payload: {explain(error)}"
    return ButtonRejected(topic, "invalid_fields", reason, button.id)


def _press_time(pressed_at: datetime | None, received_at: datetime) -> tuple[datetime, dict[str, Any]]:
    """When the press happened, and a note for the alert if the button's clock cannot be trusted."""
    if pressed_at is None:
        return received_at, {}
    if pressed_at > received_at + MAX_CLOCK_AHEAD:
        ahead = (pressed_at - received_at).total_seconds()
        return received_at, {"pressed_at_reported": format_time(pressed_at), "clock_ahead_s": ahead}
    if pressed_at < received_at - MAX_CLOCK_BEHIND:
        behind = (received_at - pressed_at).total_seconds()
        return received_at, {"pressed_at_reported": format_time(pressed_at), "clock_behind_s": behind}
    return pressed_at, {}


def _number(value: float | None) -> int | float | None:
    """JSON numbers as the device sent them: battery 90, not 90.0."""
    return int(value) if value is not None and value.is_integer() else value


def _battery(battery: Battery) -> dict[str, Any]:
    return {} if battery is None else {"battery": _number(battery)}


def _json_kind(value: object) -> str:
    names = {list: "array", str: "string", bool: "boolean", int: "number", float: "number", type(None): "null"}
    return names.get(type(value), type(value).__name__)
