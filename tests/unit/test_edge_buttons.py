"""Button payloads to presses, signs of life, ignores and rejections (edge/buttons.py, pure)."""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone
from itertools import count

import pytest

from edge.buttons import (
    REJECT_CODES,
    ButtonDecoder,
    ButtonIgnored,
    ButtonPress,
    ButtonRejected,
    ButtonStatus,
    new_alert_id,
)
from edge.config import ButtonConfig
from gridwatch.contracts import Alert

T0 = datetime(2026, 9, 9, 6, 8, 8, 622000, tzinfo=timezone.utc)
Z2M_TOPIC = "zigbee2mqtt/btn-gate-east"
GW_TOPIC = "gridwatch/yz-jinsong-01/buttons/btn-lobby"

Z2M = ButtonConfig(
    id="btn-gate-east", topic=Z2M_TOPIC, payload="zigbee2mqtt", lat=37.86151, lon=112.55362,
    actions={"single": "alarm_button", "double": "alarm_button", "long": "medical_help"},
)
GW = ButtonConfig(id="btn-lobby", topic=GW_TOPIC, payload="gridwatch", lat=37.86128, lon=112.55311)


@pytest.fixture
def decoder() -> ButtonDecoder:
    ids = count(1)
    return ButtonDecoder("yz-jinsong-01", [Z2M, GW], new_id=lambda: f"a-{next(ids)}")


def decode(decoder: ButtonDecoder, topic: str, payload: bytes) -> object:
    return decoder.decode(topic, payload, T0)


# -- presses ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("action", "alert_type"), [("single", "alarm_button"), ("double", "alarm_button"), ("long", "medical_help")]
)
def test_zigbee2mqtt_action_becomes_alert_of_the_configured_type(decoder: ButtonDecoder, action: str, alert_type: str) -> None:
    outcome = decode(decoder, Z2M_TOPIC, f'{{"action": "{action}", "battery": 90, "linkquality": 120}}'.encode())
    assert isinstance(outcome, ButtonPress)
    assert outcome.alert == Alert(
        id="a-1", category="alarm", type=alert_type, device_id="btn-gate-east", site_id="yz-jinsong-01",
        lat=37.86151, lon=112.55362, observed_at=T0, confidence=1.0,
        attributes={"press": action, "battery": 90, "topic": Z2M_TOPIC},
    )


def test_press_alert_survives_the_wire_unchanged(decoder: ButtonDecoder) -> None:
    outcome = decode(decoder, Z2M_TOPIC, b'{"action": "single", "battery": 90}')
    assert isinstance(outcome, ButtonPress)
    assert Alert.model_validate_json(outcome.alert.to_json()) == outcome.alert


def test_each_press_gets_its_own_id_and_keeps_it() -> None:
    decoder = ButtonDecoder("site", [Z2M])
    first, second = (decoder.decode(Z2M_TOPIC, b'{"action": "single"}', T0) for _ in range(2))
    assert isinstance(first, ButtonPress) and isinstance(second, ButtonPress)
    assert first.alert.id != second.alert.id
    assert re.fullmatch(r"a-[0-9a-f]{32}", first.alert.id)
    assert Alert.model_validate_json(first.alert.to_json()).id == first.alert.id


def test_new_alert_ids_are_unique() -> None:
    assert len({new_alert_id() for _ in range(1000)}) == 1000


def test_gridwatch_press_uses_pressed_at_converted_to_utc(decoder: ButtonDecoder) -> None:
    payload = b'{"event": "press", "press": "single", "pressed_at": "2026-09-09T14:07:00+08:00", "battery": 55.5}'
    outcome = decode(decoder, GW_TOPIC, payload)
    assert isinstance(outcome, ButtonPress)
    assert outcome.alert.observed_at == datetime(2026, 9, 9, 6, 7, tzinfo=timezone.utc)
    assert outcome.alert.attributes == {"press": "single", "battery": 55.5, "topic": GW_TOPIC}
    assert (outcome.alert.device_id, outcome.alert.type) == ("btn-lobby", "alarm_button")


def test_gridwatch_press_without_pressed_at_uses_receive_time(decoder: ButtonDecoder) -> None:
    outcome = decode(decoder, GW_TOPIC, b'{"event": "press", "press": "long"}')
    assert isinstance(outcome, ButtonPress)
    assert outcome.alert.observed_at == T0
    assert outcome.alert.attributes["battery"] is None


@pytest.mark.parametrize(("pressed_at", "observed"), [
    ("1970-01-01T00:00:00Z", T0),  # a clock reset by a battery swap
    ((T0 - timedelta(hours=3)).isoformat(), T0 - timedelta(hours=3)),  # queued by the broker while the agent was down
])
def test_press_stamped_long_before_it_arrived_is_kept_at_receive_time(decoder: ButtonDecoder, pressed_at: str,
                                                                      observed: datetime) -> None:
    payload = f'{{"event": "press", "press": "single", "pressed_at": "{pressed_at}"}}'.encode()
    outcome = decode(decoder, GW_TOPIC, payload)
    assert isinstance(outcome, ButtonPress) and outcome.alert.observed_at == observed
    assert ("clock_behind_s" in outcome.alert.attributes) == (observed == T0)


def test_press_from_a_button_whose_clock_runs_ahead_is_kept_at_receive_time(decoder: ButtonDecoder) -> None:
    ahead = (T0 + timedelta(hours=1)).isoformat()
    outcome = decode(decoder, GW_TOPIC, f'{{"event": "press", "press": "single", "pressed_at": "{ahead}"}}'.encode())
    assert isinstance(outcome, ButtonPress), "an alarm must not be rejected for a clock fault"
    assert outcome.alert.observed_at == T0
    assert outcome.alert.attributes["clock_ahead_s"] == 3600.0
    assert outcome.alert.attributes["pressed_at_reported"] == "2026-09-09T07:08:08.622Z"


# -- signs of life and ignores --------------------------------------------------------------


@pytest.mark.parametrize(
    ("payload", "attributes"),
    [
        (b'{"battery": 90, "linkquality": 120}', {"battery": 90, "linkquality": 120}),
        (b'{"action": null, "battery": 90}', {"battery": 90}),
        (b'{"action": "", "linkquality": 7}', {"linkquality": 7}),
        (b'{}', {}),
        (b'{"voltage": 3000, "update": {"state": "idle"}}', {}),
    ],
    ids=["absent", "null", "empty", "empty-object", "unknown-fields"],
)
def test_zigbee2mqtt_state_report_without_action_is_a_heartbeat(decoder: ButtonDecoder, payload: bytes, attributes: dict) -> None:
    assert decode(decoder, Z2M_TOPIC, payload) == ButtonStatus("btn-gate-east", T0, True, attributes)


def test_gridwatch_heartbeat(decoder: ButtonDecoder) -> None:
    outcome = decode(decoder, GW_TOPIC, b'{"event": "heartbeat", "battery": 87}')
    assert outcome == ButtonStatus("btn-lobby", T0, True, {"battery": 87})


@pytest.mark.parametrize("action", ["release", "hold_release"])
def test_ignored_actions_are_neither_alarms_nor_errors(decoder: ButtonDecoder, action: str) -> None:
    outcome = decode(decoder, Z2M_TOPIC, f'{{"action": "{action}"}}'.encode())
    assert isinstance(outcome, ButtonIgnored)
    assert outcome.device_id == "btn-gate-east"


@pytest.mark.parametrize(
    ("payload", "online"),
    [
        (b'{"state": "online"}', True),
        (b'{"state": "offline"}', False),
        (b"online", True),
        (b"offline", False),
        (b" offline\n", False),
    ],
)
def test_availability_messages(decoder: ButtonDecoder, payload: bytes, online: bool) -> None:
    outcome = decode(decoder, Z2M_TOPIC + "/availability", payload)
    assert isinstance(outcome, ButtonStatus)
    assert (outcome.device_id, outcome.online) == ("btn-gate-east", online)


def test_cleared_retained_availability_is_ignored(decoder: ButtonDecoder) -> None:
    assert isinstance(decode(decoder, Z2M_TOPIC + "/availability", b""), ButtonIgnored)


# -- rejections -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("topic", "payload", "code", "says"),
    [
        (Z2M_TOPIC, b"", "empty", "empty payload"),
        (Z2M_TOPIC, b"  \n", "empty", "empty payload"),
        (Z2M_TOPIC, b"single", "not_json", "not valid JSON"),
        (Z2M_TOPIC, b'{"action": "single"', "not_json", "not valid JSON"),
        (Z2M_TOPIC, b"\xff\xfe{}", "not_json", "not valid UTF-8"),
        (Z2M_TOPIC, b'{"a": ' + b"[" * 100_000 + b"]" * 100_000 + b"}", "not_json", "nested too deeply"),
        (Z2M_TOPIC, b'{"battery": ' + b"9" * 5000 + b"}", "not_json", "JSON Python cannot read"),
        (Z2M_TOPIC, b'["single"]', "not_object", "got a JSON array"),
        (Z2M_TOPIC, b'"single"', "not_object", "got a JSON string"),
        (Z2M_TOPIC, b"42", "not_object", "got a JSON number"),
        (Z2M_TOPIC, b"null", "not_object", "got a JSON null"),
        (Z2M_TOPIC, b'{"action": 1}', "invalid_fields", "action: Input should be a valid string"),
        (Z2M_TOPIC, b'{"action": true}', "invalid_fields", "action: Input should be a valid string"),
        (Z2M_TOPIC, b'{"action": "single", "battery": "90"}', "invalid_fields", "battery: Input should be a valid number"),
        (Z2M_TOPIC, b'{"battery": 150}', "invalid_fields", "battery: Input should be less than or equal to 100"),
        (Z2M_TOPIC, b'{"linkquality": -1}', "invalid_fields", "linkquality"),
        (Z2M_TOPIC, b'{"action": "triple"}', "unknown_action",
         "action 'triple' is not configured for button btn-gate-east; add it to actions or ignore_actions"),
        (GW_TOPIC, b"{}", "invalid_fields", "event: Field required"),
        (GW_TOPIC, b'{"event": "boom"}', "invalid_fields", "event: Input should be 'press' or 'heartbeat'"),
        (GW_TOPIC, b'{"event": "press"}', "invalid_fields", "a press event needs 'press'"),
        (GW_TOPIC, b'{"event": "press", "press": 2}', "invalid_fields", "press: Input should be a valid string"),
        (GW_TOPIC, b'{"event": "press", "press": ""}', "invalid_fields", "press: String should have at least 1"),
        (GW_TOPIC, b'{"event": "press", "press": "single", "pressed_at": "yesterday"}', "invalid_fields", "pressed_at"),
        (GW_TOPIC, b'{"event": "press", "press": "single", "pressed_at": "2026-09-09T06:00:00"}', "invalid_fields",
         "timestamp must carry a time zone"),
        (GW_TOPIC, b'{"event": "press", "press": "triple"}', "unknown_action", "action 'triple' is not configured"),
        (GW_TOPIC, b'{"event": "heartbeat", "battery": true}', "invalid_fields", "battery: Input should be a valid number"),
        (Z2M_TOPIC + "/availability", b'{"state": "on"}', "invalid_fields", "state: Input should be 'online' or 'offline'"),
        (Z2M_TOPIC + "/availability", b'["online"]', "not_object", "got a JSON array"),
        (Z2M_TOPIC + "/availability", b"maybe", "not_json", "not valid JSON"),
    ],
)
def test_rejections_say_what_is_wrong(decoder: ButtonDecoder, topic: str, payload: bytes, code: str, says: str) -> None:
    outcome = decode(decoder, topic, payload)
    assert isinstance(outcome, ButtonRejected)
    assert outcome.code == code and code in REJECT_CODES
    assert says in outcome.reason
    assert outcome.topic == topic
    assert outcome.device_id == ("btn-gate-east" if topic.startswith(Z2M_TOPIC) else "btn-lobby")
    assert outcome.device_id in outcome.reason, "the installer must see which button sent it"


@pytest.mark.parametrize("topic", ["zigbee2mqtt/other-button", "zigbee2mqtt/other-button/availability", ""])
def test_message_on_an_unconfigured_topic_is_rejected(decoder: ButtonDecoder, topic: str) -> None:
    outcome = decode(decoder, topic, b'{"action": "single"}')
    assert outcome == ButtonRejected(topic, "unknown_topic", f"no button is configured for MQTT topic {topic!r}")


def test_a_button_only_understands_its_own_format(decoder: ButtonDecoder) -> None:
    outcome = decode(decoder, GW_TOPIC, b'{"action": "single"}')
    assert isinstance(outcome, ButtonRejected) and "event: Field required" in outcome.reason


# -- subscriptions --------------------------------------------------------------------------


def test_subscriptions_cover_each_button_and_its_availability(decoder: ButtonDecoder) -> None:
    assert decoder.subscriptions() == [Z2M_TOPIC, Z2M_TOPIC + "/availability", GW_TOPIC, GW_TOPIC + "/availability"]


def test_site_without_buttons_subscribes_to_nothing() -> None:
    decoder = ButtonDecoder("site", [])
    assert decoder.subscriptions() == []
    assert isinstance(decoder.decode("any/topic", b"{}", T0), ButtonRejected)
