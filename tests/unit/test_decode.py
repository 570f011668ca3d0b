"""Decoding a poll of Kafka records: the fast path from bytes gives what the dict path gives, and
anything it refuses still becomes a dead letter naming what is wrong."""

from __future__ import annotations

import json
from dataclasses import dataclass

import pytest

from gridwatch.contracts import Heartbeat, parse_observation
from gridwatch.settings import Topics
from ingest.decode import DecodedBatch, decode_fast, decode_records

from .factories import T0, alert_factory, report_factory

TOPICS = Topics()


@dataclass(frozen=True)
class Record:
    """The fields of a kafka-python ConsumerRecord that decoding reads."""

    topic: str
    value: bytes | None
    partition: int = 0
    offset: int = 0
    key: bytes | None = None
    timestamp: int = 0


def test_observations_decoded_from_bytes_equal_the_dict_path() -> None:
    alert = alert_factory("fire", attributes={"zone": "gate", "boxes": [[1, 2, 3, 4]]}, extra_field="kept")
    report = report_factory("hazard")
    batch = decode_records([Record(TOPICS.alerts, alert.to_json()), Record(TOPICS.reports, report.to_json())], TOPICS)
    assert batch.observations == [parse_observation(json.loads(alert.to_json())),
                                  parse_observation(json.loads(report.to_json()))]
    assert batch.observations[0].model_extra == {"extra_field": "kept"}
    assert not batch.rejected


def test_heartbeat_is_decoded_from_bytes() -> None:
    beat = Heartbeat(device_id="cam-1", site_id="site-1", device_type="camera", seen_at=T0)
    batch = decode_records([Record(TOPICS.heartbeats, beat.to_json())], TOPICS)
    assert batch.heartbeats == [beat] and not batch.observations


@pytest.mark.parametrize(("value", "reason"), [
    (b"\xff\xfe not utf-8", "not valid UTF-8 text"),
    (b"[1, 2]", "expected a JSON object, got list"),
    (b"{not json", "not valid JSON: Expecting property name enclosed in double quotes at line 1 column 2"),
    (None, "empty message (null value)"),
    (json.dumps({"kind": "photo", "id": "x"}).encode(), "kind must be 'alert' or 'report', got 'photo'"),
])
def test_what_the_fast_path_refuses_is_dead_lettered_with_the_reason(value: bytes | None, reason: str) -> None:
    batch = decode_records([Record(TOPICS.alerts, value, partition=2, offset=41)], TOPICS)
    (letter,) = batch.rejected
    assert letter.reason == reason and letter.context["offset"] == 41 and not batch.observations


def test_out_of_range_field_is_named() -> None:
    bad = json.dumps({**json.loads(alert_factory().to_json()), "lat": 123.0}).encode()
    (letter,) = decode_records([Record(TOPICS.alerts, bad)], TOPICS).rejected
    assert letter.reason == "lat: Input should be less than or equal to 90"


def test_empty_poll_gives_an_empty_batch() -> None:
    batch = decode_records([], TOPICS)
    assert (batch.observations, batch.heartbeats, batch.rejected, batch.dead_letters) == ([], [], [], [])


def test_well_formed_messages_take_the_fast_path_and_malformed_ones_do_not() -> None:
    batch = DecodedBatch()
    assert decode_fast(Record(TOPICS.alerts, alert_factory().to_json()), TOPICS, batch)
    assert not decode_fast(Record(TOPICS.alerts, b"[1, 2]"), TOPICS, batch)
    assert not decode_fast(Record(TOPICS.deadletter, b"{}"), TOPICS, batch)  # dead letters: their own path
    assert len(batch.observations) == 1 and not batch.rejected


def test_each_observation_keeps_its_message_text_to_store_as_its_payload() -> None:
    alert, report = alert_factory("fire", extra_field="kept"), report_factory("hazard")
    batch = decode_records([Record(TOPICS.alerts, alert.to_json()), Record(TOPICS.reports, report.to_json())], TOPICS)
    assert batch.texts == [alert.to_json().decode(), report.to_json().decode()]


@pytest.mark.parametrize("value", [float("nan"), float("inf"), float("-inf")])
def test_a_text_jsonb_would_refuse_is_not_kept_and_its_model_is_stored_instead(value: float) -> None:
    # pydantic's parser takes NaN and Infinity; PostgreSQL's jsonb does not (the model dumps them as null).
    raw = json.dumps({**json.loads(alert_factory().to_json()), "attributes": {"dwell_s": value}}).encode()
    batch = decode_records([Record(TOPICS.alerts, raw)], TOPICS)
    assert len(batch.observations) == 1 and batch.texts == [None]
    assert json.loads(batch.observations[0].model_dump_json())["attributes"] == {"dwell_s": None}


def test_observations_added_without_a_text_stay_aligned_with_the_texts() -> None:
    first, second = alert_factory(), alert_factory()
    batch = decode_records([Record(TOPICS.alerts, first.to_json())], TOPICS)
    batch.add(second)  # as the dict path adds what it validated
    assert batch.observations == [first, second] and batch.texts == [first.to_json().decode(), None]


def test_a_report_sent_to_the_alerts_topic_is_still_stored_as_a_report() -> None:
    report = report_factory("hazard")
    batch = decode_records([Record(TOPICS.alerts, report.to_json())], TOPICS)
    assert batch.observations == [report] and not batch.rejected


@pytest.mark.parametrize("topic", [TOPICS.alerts, TOPICS.reports, TOPICS.heartbeats])
def test_a_message_escaping_a_nul_character_is_dead_lettered_not_left_to_fail_its_batch(topic: str) -> None:
    # PostgreSQL's jsonb and text cannot hold NUL: stored, it would fail its batch on every retry.
    raw = json.dumps({**json.loads(alert_factory().to_json()), "attributes": {"zone": "gate\x00"}}).encode()
    assert b"\\u0000" in raw
    batch = decode_records([Record(topic, raw, offset=7)], TOPICS)
    (letter,) = batch.rejected
    assert letter.reason == "holds \\u0000 (a NUL character), which PostgreSQL cannot store"
    assert letter.context["offset"] == 7 and not batch.observations and not batch.heartbeats


def test_other_escapes_are_kept() -> None:
    alert = alert_factory(attributes={"zone": 'gate "east"\\n'})
    batch = decode_records([Record(TOPICS.alerts, alert.to_json())], TOPICS)
    assert batch.observations == [alert] and batch.texts == [alert.to_json().decode()]


def test_a_backslash_before_the_letters_u0000_is_no_nul() -> None:
    # An escaped backslash then "u0000" (a dead letter quoting a refused message, a Windows path) is text.
    alert = alert_factory(attributes={"zone": "C:\\u0000 gate", "note": "\\\\u0000"})
    assert b"\\\\u0000" in alert.to_json()
    batch = decode_records([Record(TOPICS.alerts, alert.to_json())], TOPICS)
    assert batch.observations == [alert] and not batch.rejected


def test_the_dead_letter_of_a_message_escaping_nul_is_stored_as_a_dead_letter() -> None:
    raw = json.dumps({**json.loads(alert_factory().to_json()), "type": "x\x00"}).encode()
    letter = decode_records([Record(TOPICS.alerts, raw)], TOPICS).rejected[0]
    batch = decode_records([Record(TOPICS.deadletter, letter.to_json(), offset=3)], TOPICS)
    (stored,) = [d for d, *_ in batch.dead_letters]
    assert stored.payload == raw.decode() and stored.reason == letter.reason


@pytest.mark.parametrize("topic", [TOPICS.alerts, TOPICS.reports])
@pytest.mark.parametrize("when", ["0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00"])
def test_a_time_beyond_the_calendar_in_utc_is_dead_lettered_not_raised(topic: str, when: str) -> None:
    # Python cannot convert these to UTC (OverflowError): once, that escaped the decoder and its batch
    # was polled again and again.
    raw = json.dumps({**json.loads(alert_factory().to_json()), "observed_at": when}).encode()
    (letter,) = decode_records([Record(topic, raw)], TOPICS).rejected
    assert "observed_at" in letter.reason and "timestamp out of range" in letter.reason


def test_a_lone_surrogate_escape_is_dead_lettered() -> None:
    # json.loads lets "\udc00" through; the writer's dump and PostgreSQL cannot take it.
    raw = alert_factory().to_json().replace(b'"attributes":{}', b'"attributes":{"x":"\\udc00"}')
    assert b"\\udc00" in raw
    (letter,) = decode_records([Record(TOPICS.alerts, raw)], TOPICS).rejected
    assert "lone UTF-16 surrogate" in letter.reason


def test_a_surrogate_pair_is_text() -> None:
    alert = alert_factory(attributes={"zone": "gate \U0001f525"})
    raw = json.dumps(json.loads(alert.to_json())).encode()  # ensure_ascii: the emoji as \ud83d\udd25
    assert b"\\ud83d" in raw
    assert decode_records([Record(TOPICS.alerts, raw)], TOPICS).observations == [alert]


@pytest.mark.parametrize("fields, named", [
    ({"source": None}, "source"), ({"reason": 5}, "reason"), ({"received_at": "yesterday"}, "received_at"),
    ({"context": [1]}, "context"),
])
def test_a_dead_letter_with_a_wrong_field_is_kept_as_unreadable_not_written_as_is(fields: dict, named: str) -> None:
    letter = {"source": "edge", "reason": "r", "payload": "p", "received_at": "2026-09-09T06:00:00Z", **fields}
    batch = decode_records([Record(TOPICS.deadletter, json.dumps(letter).encode(), offset=4)], TOPICS)
    ((stored, topic, _, offset),) = batch.dead_letters
    assert stored.reason.startswith("unreadable dead letter: ") and named in stored.reason
    assert (stored.source, stored.payload, topic, offset) == ("kafka", json.dumps(letter), TOPICS.deadletter, 4)


def test_a_dead_letter_is_read_back_with_its_time_in_utc() -> None:
    letter = {"source": "mqtt", "reason": "r", "payload": "p", "received_at": "2026-09-09T14:00:00+08:00", "new": 1}
    ((stored, *_),) = decode_records([Record(TOPICS.deadletter, json.dumps(letter).encode())], TOPICS).dead_letters
    assert (stored.source, stored.received_at) == ("mqtt", "2026-09-09T06:00:00.000Z")
