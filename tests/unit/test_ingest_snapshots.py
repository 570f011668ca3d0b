"""The ingest's snapshot consumer, its pure part: good messages parsed, bad ones dead-lettered
with the reason, and never a dead letter too big for Kafka."""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from datetime import datetime, timezone

from gridwatch.kafka import next_offsets
from gridwatch.settings import KafkaSettings, Settings
from gridwatch.snapshot import Snapshot
from ingest.snapshots import DEAD_LETTER_BYTES, decode_snapshots, snapshot_group

T0 = datetime(2026, 9, 9, 6, 0, tzinfo=timezone.utc)


@dataclass
class Record:
    """The fields of kafka-python's ConsumerRecord the consumer reads."""

    key: bytes | None
    value: bytes | None
    headers: list[tuple[str, bytes]] = field(default_factory=list)
    topic: str = "gridwatch.snapshots"
    partition: int = 0
    offset: int = 0


def good(alert_id: str, offset: int = 0) -> Record:
    snapshot = Snapshot(alert_id, "cam-1", "site-1", T0, b"\xff\xd8\xff\xe0" + bytes(100))
    return Record(alert_id.encode(), snapshot.jpeg, list(snapshot.headers()), offset=offset)


def test_good_and_bad_messages_are_told_apart() -> None:
    huge_png = b"\x89PNG" + bytes(900_000)
    records = [good("a-1", 0), Record(b"a-2", huge_png, [("alert_id", b"a-2")], offset=1), good("a-3", 2)]
    stored, rejected = decode_snapshots(records)
    assert [(s.alert_id, s.camera_id, s.taken_at) for _, s in stored] == [("a-1", "cam-1", T0), ("a-3", "cam-1", T0)]
    assert [record for record, _ in stored] == [records[0], records[2]], "each snapshot keeps its record"
    [letter] = rejected
    assert letter.reason == "unusable snapshot: missing header(s) camera_id, taken_at"
    assert (letter.source, letter.topic, letter.key) == ("kafka", "gridwatch.snapshots", "a-2")
    assert letter.context["size"] == len(huge_png) and letter.context["truncated"] is True
    assert letter.context["offset"] == 1 and letter.context["headers"] == {"alert_id": "a-2"}
    assert len(base64.b64decode(letter.payload)) == DEAD_LETTER_BYTES, "a dead letter must fit in a Kafka message"


def test_empty_poll_is_empty() -> None:
    assert decode_snapshots([]) == ([], [])


def test_offsets_commit_past_the_last_record_of_each_partition() -> None:
    records = [good("a", 4), good("b", 9), Record(b"c", b"", partition=1, offset=2)]
    committed = {tp.partition: meta.offset for tp, meta in next_offsets(records).items()}
    assert committed == {0: 10, 1: 3}


def test_the_consumer_group_is_its_own_per_deployment() -> None:
    settings = Settings.model_validate({"kafka": KafkaSettings(ingest_group="gw-ingest-x").model_dump()})
    assert snapshot_group(settings) == "gw-ingest-x-snapshots"


def test_a_header_with_a_nul_byte_is_dead_lettered_not_left_to_fail_its_batch() -> None:
    # PostgreSQL's text cannot hold NUL: stored, the snapshot would fail its batch on every retry.
    record = good("a-1")
    record.headers = [(name, b"a-1\x00" if name == "alert_id" else raw) for name, raw in record.headers]
    record.key = b"a-1\x00"
    stored, (letter,) = decode_snapshots([record])
    assert not stored and letter.reason == "unusable snapshot: header(s) alert_id hold a NUL byte"
