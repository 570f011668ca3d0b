"""Rejected input, kept where an operator can look at it.

Anything GridWatch cannot accept (a malformed MQTT payload, Kafka message or API body) becomes a
``DeadLetter``: the raw payload, the reason in plain words, and where it came from. It goes to the
``gridwatch.deadletter`` topic (the ingest stores it in the ``dead_letters`` table) and is counted.
"""

from __future__ import annotations

import base64
import json
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError

from gridwatch.contracts import UtcTime, format_time


@dataclass(frozen=True)
class DeadLetter:
    source: str  # "mqtt", "kafka", "api"
    reason: str
    payload: str  # the raw text, or base64 of bytes no text column holds (see context["encoding"])
    topic: str | None = None
    key: str | None = None
    received_at: str = field(default_factory=lambda: format_time(datetime.now(timezone.utc)))
    context: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_bytes(cls, source: str, reason: str, raw: bytes, **kwargs: Any) -> "DeadLetter":
        """The letter of ``raw``: its text, or its base64 when it is not UTF-8 or holds a NUL byte
        (PostgreSQL's text cannot store one: the letter's own write would fail on every retry)."""
        try:
            if b"\x00" not in raw:
                return cls(source, reason, raw.decode("utf-8"), **kwargs)
        except UnicodeDecodeError:
            pass
        context = {**kwargs.pop("context", {}), "encoding": "base64"}
        return cls(source, reason, base64.b64encode(raw).decode(), context=context, **kwargs)

    def to_json(self) -> bytes:
        return json.dumps(asdict(self), ensure_ascii=False).encode()

    @classmethod
    def from_json(cls, raw: bytes) -> "DeadLetter":
        return cls.from_dict(json.loads(raw))

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "DeadLetter":
        """A letter read back from the deadletter topic, its fields checked (pydantic's
        ``ValidationError`` names a wrong one): the ingest stores it in typed columns."""
        fields = DeadLetterFields.model_validate(data)
        return cls(**{**fields.model_dump(), "received_at": format_time(fields.received_at)})


class DeadLetterFields(BaseModel):
    """The fields of a ``DeadLetter`` on the wire, with their types; a field of a newer version is ignored."""

    model_config = ConfigDict(extra="ignore")

    source: str
    reason: str
    payload: str
    topic: str | None = None
    key: str | None = None
    received_at: UtcTime
    context: dict[str, Any] = {}


def explain(error: Exception) -> str:
    """One line that says what is wrong with an input, field by field."""
    if isinstance(error, ValidationError):
        parts = []
        for e in error.errors():
            where = ".".join(str(p) for p in e["loc"]) or "(message)"
            parts.append(f"{where}: {e['msg']}")
        return "; ".join(parts)
    if isinstance(error, json.JSONDecodeError):
        # json's own words for some errors end in "at" (Invalid control character at): said once
        return f"not valid JSON: {error.msg.removesuffix(' at')} at line {error.lineno} column {error.colno}"
    if isinstance(error, UnicodeDecodeError):
        return "not valid UTF-8 text"
    return str(error)


def first_line(error: BaseException) -> str:
    """The first line of an error's message (a PostgreSQL error goes on with DETAIL and HINT lines)."""
    return (str(error).splitlines() or [""])[0]
