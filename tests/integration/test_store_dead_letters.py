"""Dead letters on real PostgreSQL: a Kafka message rejected again (its batch re-read after a failed
write, so dead-lettered again at new offsets of the deadletter topic) is stored once, keyed by its
original topic, partition, offset and reason (migration 0009); MQTT and API letters, which have no
original offset, are stored as before. 0009 also removes the duplicates stored before it."""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterator
from importlib.resources import files
from types import SimpleNamespace

import psycopg
import pytest
from yoyo import get_backend, read_migrations

from gridwatch.deadletter import DeadLetter
from gridwatch.servers import PostgresServer
from ingest import store
from ingest.decode import reject
from ingest.migrate import _yoyo_url
from ingest.snapshots import dead_letter as snapshot_dead_letter

pytestmark = pytest.mark.integration

DEADLETTER = "gridwatch.deadletter"
MIGRATIONS = str(files("ingest") / "migrations")
DEDUP = "0009_dead_letter_once"


def _record(offset: int, topic: str = "gridwatch.alerts", partition: int = 0, value: bytes = b"{not json") -> object:
    return SimpleNamespace(topic=topic, partition=partition, offset=offset, timestamp=1_700_000_000_000 + offset,
                           key=b"cam-1", value=value, headers=[])


def _write(url: str, letters: list[tuple[DeadLetter, str, int, int]]) -> None:
    with psycopg.connect(url) as conn, conn.transaction(), conn.cursor() as cur:
        store.write_dead_letters(cur, letters)


def _rows(url: str) -> list[tuple]:
    with psycopg.connect(url) as conn:
        return conn.execute("SELECT source, reason, context->>'original_topic', (context->>'offset')::bigint,"
                            " \"offset\" FROM dead_letters ORDER BY id").fetchall()


def test_a_message_rejected_again_lands_once_per_reason(database_url: str) -> None:
    bad = reject(_record(41), "not valid JSON")
    _write(database_url, [(bad, DEADLETTER, 0, 100)])
    # The batch failed and was read again: the same rejection at the deadletter topic's next offsets,
    # once more in a later job and twice in one job.
    _write(database_url, [(reject(_record(41), "not valid JSON"), DEADLETTER, 0, 101)])
    _write(database_url, [(reject(_record(41), "not valid JSON"), DEADLETTER, 0, 102),
                          (reject(_record(41), "not valid JSON"), DEADLETTER, 1, 7)])
    assert _rows(database_url) == [("kafka", "not valid JSON", "gridwatch.alerts", 41, 100)]

    # The same message refused for another reason is another rejection; another offset, another message.
    _write(database_url, [(reject(_record(41), "could not be stored: DataError: x"), DEADLETTER, 0, 103),
                          (reject(_record(42), "not valid JSON"), DEADLETTER, 0, 104),
                          (reject(_record(41, partition=1), "not valid JSON"), DEADLETTER, 0, 105),
                          (reject(_record(41, topic="gridwatch.reports"), "not valid JSON"), DEADLETTER, 0, 106)])
    rows = _rows(database_url)
    assert [r[4] for r in rows] == [100, 103, 104, 105, 106]
    assert rows[1][:4] == ("kafka", "could not be stored: DataError: x", "gridwatch.alerts", 41)


def test_a_picture_rejected_again_lands_once(database_url: str) -> None:
    picture = _record(5, topic="gridwatch.snapshots", value=b"\xff\xd8 not a jpeg")
    _write(database_url, [(snapshot_dead_letter(picture, "unusable snapshot: bad"), DEADLETTER, 0, 10)])
    _write(database_url, [(snapshot_dead_letter(picture, "unusable snapshot: bad"), DEADLETTER, 0, 11)])
    assert _rows(database_url) == [("kafka", "unusable snapshot: bad", "gridwatch.snapshots", 5, 10)]


def test_a_long_reason_is_stored_and_kept_once(database_url: str) -> None:
    # A reason quoting a value may be longer than a btree entry can be (about 2.7 kB, after compression).
    reason = "could not be stored: DataError: " + secrets.token_hex(4000)
    _write(database_url, [(reject(_record(7), reason), DEADLETTER, 0, 1)])
    _write(database_url, [(reject(_record(7), reason), DEADLETTER, 0, 2)])
    assert [(r[1], r[4]) for r in _rows(database_url)] == [(reason, 1)]


def test_letters_without_an_original_offset_are_stored_as_before(database_url: str) -> None:
    mqtt = DeadLetter("mqtt", "not valid JSON", "garbage", topic="gridwatch/buttons/b-1/press", key="b-1",
                      context={"code": "bad_json"})
    api = DeadLetter("api", "text: field required", "{}", context={"route": "POST /v1/patrol-reports"})
    _write(database_url, [(mqtt, DEADLETTER, 0, 1), (api, DEADLETTER, 0, 2)])
    _write(database_url, [(mqtt, DEADLETTER, 0, 3), (api, DEADLETTER, 0, 4)])
    _write(database_url, [(api, DEADLETTER, 0, 4)])  # a re-delivery: the deadletter topic's key holds it
    assert [(r[0], r[4]) for r in _rows(database_url)] == [("mqtt", 1), ("api", 2), ("mqtt", 3), ("api", 4)]


@pytest.fixture
def database_before_dedup(pg_server: PostgresServer) -> Iterator[str]:
    """A database with every migration before 0009 applied (yoyo's own bookkeeping), dropped afterwards."""
    name = f"gw_{secrets.token_hex(6)}"
    url = pg_server.create_database(name)
    try:
        backend = get_backend(_yoyo_url(url))
        migrations = read_migrations(MIGRATIONS)
        assert DEDUP in {m.id for m in migrations}
        with backend.lock():
            backend.apply_migrations(backend.to_apply(migrations.filter(lambda m: m.id < DEDUP)))
        yield url
    finally:
        pg_server.drop_database(name)


def _insert(conn: psycopg.Connection, offset: int | None, reason: str, context: dict) -> int:
    (row_id,) = conn.execute(
        "INSERT INTO dead_letters (source, topic, partition, \"offset\", reason, payload, context)"
        " VALUES ('kafka', %s, 0, %s, %s, '{x', %s) RETURNING id",
        (DEADLETTER, offset, reason, json.dumps(context))).fetchone()
    return row_id


def test_migration_removes_the_duplicates_stored_before_it(database_before_dedup: str) -> None:
    url = database_before_dedup
    alert = {"original_topic": "gridwatch.alerts", "partition": 0, "offset": 41, "timestamp_ms": 1}
    with psycopg.connect(url) as conn:
        assert not conn.execute("SELECT 1 FROM pg_indexes WHERE indexname = 'dead_letters_original_uq'").fetchone()
        first = _insert(conn, 100, "not valid JSON", alert)
        again = [_insert(conn, 101, "not valid JSON", alert),
                 _insert(conn, 102, "not valid JSON", {**alert, "timestamp_ms": 2})]
        other_reason = _insert(conn, 103, "could not be stored: DataError: x", alert)
        other_reason_again = _insert(conn, 104, "could not be stored: DataError: x", alert)
        other_offset = _insert(conn, 105, "not valid JSON", {**alert, "offset": 42})
        other_partition = _insert(conn, 106, "not valid JSON", {**alert, "partition": 1})
        other_topic = _insert(conn, 107, "not valid JSON", {**alert, "original_topic": "gridwatch.reports"})
        # Without an original offset (MQTT, API), or without an original topic (written before the
        # ingest added it): left alone, twins and all.
        mqtt = [_insert(conn, None, "not valid JSON", {"code": "bad_json", "original_topic": "b/1/press"})
                for _ in range(2)]
        no_topic = [_insert(conn, 108 + i, "not valid JSON", {"partition": 0, "offset": 41}) for i in range(2)]

    backend = get_backend(_yoyo_url(url))
    with backend.lock():
        pending = backend.to_apply(read_migrations(MIGRATIONS))
        assert pending[0].id == DEDUP  # and whatever comes after it
        backend.apply_migrations(pending)

    with psycopg.connect(url) as conn:
        left = [row_id for (row_id,) in conn.execute("SELECT id FROM dead_letters ORDER BY id")]
        assert conn.execute("SELECT 1 FROM pg_indexes WHERE indexname = 'dead_letters_original_uq'").fetchone()
    assert left == sorted([first, other_reason, other_offset, other_partition, other_topic, *mqtt, *no_topic])
    assert not set(again + [other_reason_again]) & set(left)
