"""Turn a poll of Kafka records into validated observations, heartbeats and dead letters.

A message that cannot be used is never dropped: it becomes a ``DeadLetter`` naming what is wrong
and where it came from (topic, partition, offset), to be published on the deadletter topic.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Annotated, Any

from pydantic import Field, TypeAdapter

from gridwatch.contracts import Alert, Heartbeat, Observation, PatrolReport, parse_observation
from gridwatch.deadletter import DeadLetter, explain
from gridwatch.settings import Topics


def stored_as_is(raw: bytes) -> str | None:
    """The message's text when the ``payload`` column can take it as it is, else None.

    pydantic's JSON parser reads the NaN and Infinity literals, PostgreSQL's jsonb refuses them: a
    message with either (or these letters inside a string) is stored as its model's dump, where they
    are null. A capital N or I is rare in a message, and a search for one byte is several times cheaper
    than for a word."""
    if (b"N" in raw and b"NaN" in raw) or (b"I" in raw and b"Infinity" in raw):
        return None
    try:
        return raw.decode()
    except UnicodeDecodeError:  # not seen past pydantic's parser, which reads UTF-8 only; kept safe
        return None


@dataclass
class DecodedBatch:
    observations: list[Observation] = field(default_factory=list)
    # Beside each observation, its message's text where it can be stored as it came (validated, so the
    # writer needs no dump of the model per row), else None.
    texts: list[str | None] = field(default_factory=list)
    heartbeats: list[Heartbeat] = field(default_factory=list)
    rejected: list[DeadLetter] = field(default_factory=list)
    dead_letters: list[tuple[DeadLetter, str, int, int]] = field(default_factory=list)  # with DLQ coordinates

    def add(self, observation: Observation, text: str | None = None) -> None:
        self.observations.append(observation)
        self.texts.append(text)


# Validated straight from the message bytes (pydantic's JSON parser, no dict in between). A message
# that fails here goes the slow way, which names what is wrong in the words the dead letters use.
# An alert on the alerts topic skips the union's dispatch on ``kind`` (a tenth of the time); whatever
# else is there (a report sent to the wrong topic, say) fails it and takes the slow way as before.
OBSERVATION_JSON = TypeAdapter(Annotated[Alert | PatrolReport, Field(discriminator="kind")])
ALERT_JSON = TypeAdapter(Alert)
HEARTBEAT_JSON = TypeAdapter(Heartbeat)


def reject(record: Any, reason: str) -> DeadLetter:
    """The dead letter of a Kafka record, with its coordinates (topic, partition, offset) and ``reason``."""
    key = record.key.decode("utf-8", "replace") if record.key else None
    context = {"partition": record.partition, "offset": record.offset, "timestamp_ms": record.timestamp}
    return DeadLetter.from_bytes("kafka", reason, record.value or b"", topic=record.topic, key=key, context=context)


# ``\u0000`` after an even run of backslashes (none included): an escaped NUL, not an escaped backslash
# followed by the letters ``u0000`` (as in a dead letter quoting such a message).
ESCAPED_NUL = re.compile(rb"(?<!\\)(?:\\\\)*\\u0000")


def holds_nul(raw: bytes) -> bool:
    """Whether the message escapes a NUL character, which PostgreSQL's text and jsonb cannot hold: its
    batch's write would fail on every retry, so the message is refused here. The pattern runs only
    when a plain search finds the letters, which is rare."""
    return b"\\u0000" in raw and ESCAPED_NUL.search(raw) is not None


def _decode_json(raw: bytes | None) -> dict[str, Any]:
    if raw is None:
        raise ValueError("empty message (null value)")
    if holds_nul(raw):
        raise ValueError("holds \\u0000 (a NUL character), which PostgreSQL cannot store")
    data = json.loads(raw.decode("utf-8"))
    if not isinstance(data, dict):
        raise ValueError(f"expected a JSON object, got {type(data).__name__}")
    if b"\\u" in raw and not _encodable(data):
        raise ValueError("holds a lone UTF-16 surrogate (an escape such as \\udc00 alone), which is not text")
    return data


def _encodable(data: dict[str, Any]) -> bool:
    """Whether the decoded message can be written as UTF-8 again (``json.loads`` lets a lone surrogate
    escape through; the writer's JSON dump and PostgreSQL cannot take it)."""
    try:
        json.dumps(data, ensure_ascii=False).encode()
    except UnicodeEncodeError:
        return False
    return True


def observation_from_json(raw: bytes) -> Observation:
    """One observation from its message bytes, refused (``ValueError`` or pydantic's, naming what is
    wrong) exactly where the live ingest refuses it: ``gridwatch replay`` reads its lines through here."""
    return parse_observation(_decode_json(raw))


def decode_fast(record: Any, topics: Topics, batch: DecodedBatch) -> bool:
    """Validate a well-formed observation or heartbeat from its bytes; False to take the slow way."""
    if record.value is None or record.topic == topics.deadletter or holds_nul(record.value):
        return False
    try:
        if record.topic == topics.heartbeats:
            batch.heartbeats.append(HEARTBEAT_JSON.validate_json(record.value))
        elif record.topic == topics.alerts:
            batch.add(ALERT_JSON.validate_json(record.value), stored_as_is(record.value))
        else:
            batch.add(OBSERVATION_JSON.validate_json(record.value), stored_as_is(record.value))
    except Exception:  # noqa: BLE001 - the slow way names what is wrong
        return False
    return True


def decode_record(record: Any, topics: Topics, batch: DecodedBatch) -> None:
    if decode_fast(record, topics, batch):
        return
    try:
        data = _decode_json(record.value)
        if record.topic == topics.deadletter:
            batch.dead_letters.append((DeadLetter.from_dict(data), record.topic, record.partition, record.offset))
        elif record.topic == topics.heartbeats:
            batch.heartbeats.append(Heartbeat.model_validate(data))
        else:
            batch.add(parse_observation(data))  # as ``observation_from_json``, the JSON read once
    except Exception as exc:  # noqa: BLE001 - whatever a message does to the parsers, it is rejected, not retried
        if record.topic == topics.deadletter:
            # A broken dead letter is itself kept, as a dead letter of the deadletter topic.
            letter = DeadLetter.from_bytes("kafka", f"unreadable dead letter: {explain(exc)}", record.value or b"",
                                           topic=record.topic)
            batch.dead_letters.append((letter, record.topic, record.partition, record.offset))
        else:
            batch.rejected.append(reject(record, explain(exc)))


def decode_records(records: list[Any], topics: Topics) -> DecodedBatch:
    batch = DecodedBatch()
    for record in records:
        decode_record(record, topics, batch)
    return batch
