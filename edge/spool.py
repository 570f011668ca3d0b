"""Durable store-and-forward for the edge: every record is on disk before Kafka sees it.

Why SQLite in WAL mode rather than append-only files or an in-memory queue:

- A commit is atomic and survives ``kill -9`` of the agent; with ``synchronous=FULL`` it also
  survives a power cut, which at a gatehouse is more likely than a software crash. Button and
  alert rates are low (a few per second at most), so one fsync per record costs nothing that matters.
- Acknowledging a record is a ``DELETE`` by sequence number: no segment files, offsets or
  compaction to write and get wrong. AUTOINCREMENT keeps sequence numbers rising, never reused.
- WAL lets the drain thread read while the MQTT thread appends, and ``sqlite3`` ships with Python.

Records keep their alert id: if the agent dies after Kafka took a record but before the ack,
the record is sent again and the ingest drops the duplicate by id.

The spool is bounded (records, bytes, age). When a bound is hit the oldest records go first, and
every drop is counted (in the file, so the count survives restarts) and reported to ``on_drop``.
A file SQLite cannot read at start (a damaged SD card) is set aside as ``*.corrupt-<time>`` for
someone to look at, and an empty spool starts: the site's buttons keep working.
"""

from __future__ import annotations

import base64
import json
import re
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import structlog

from edge.config import SpoolConfig

log = structlog.get_logger(__name__)

SCHEMA = """
CREATE TABLE IF NOT EXISTS records (
    seq        INTEGER PRIMARY KEY AUTOINCREMENT,
    topic      TEXT    NOT NULL,
    key        BLOB,
    value      BLOB    NOT NULL,
    record_id  TEXT,
    headers    TEXT    NOT NULL DEFAULT '[]',
    priority   INTEGER NOT NULL DEFAULT 0,
    conflate   TEXT,
    created_at REAL    NOT NULL,
    size       INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS records_conflate ON records (conflate) WHERE conflate IS NOT NULL;
CREATE INDEX IF NOT EXISTS records_drop_order ON records (priority, seq);
CREATE TABLE IF NOT EXISTS counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
"""


@dataclass(frozen=True)
class SpoolRecord:
    """A Kafka message waiting to be sent; ``record_id`` is the alert id where there is one.

    ``priority``: when a size bound is hit, lower priorities are dropped first (alerts are HIGH,
    so a long outage spends heartbeats and dead letters before a single alarm press).
    ``conflate``: a record replaces any unsent record with the same key (a device's heartbeat:
    only the latest state matters, so an outage holds one per device, not one per interval).
    """

    topic: str
    key: bytes | None
    value: bytes
    record_id: str | None = None
    headers: tuple[tuple[str, bytes], ...] = ()
    priority: int = 0
    conflate: str | None = None

    @property
    def size(self) -> int:
        return len(self.value) + len(self.key or b"") + sum(len(n) + len(v) for n, v in self.headers)


def _encode_headers(headers: tuple[tuple[str, bytes], ...]) -> str:
    return json.dumps([[name, base64.b64encode(value).decode()] for name, value in headers])


def _decode_headers(text: str) -> tuple[tuple[str, bytes], ...]:
    return tuple((name, base64.b64decode(value)) for name, value in json.loads(text))


@dataclass(frozen=True)
class SpooledRecord:
    seq: int
    record: SpoolRecord
    created_at: float


PRIORITY_LOW = 0
PRIORITY_HIGH = 1

DropHandler = Callable[[int, str, str | None], None]  # (count, bound, oldest dropped record_id)


@dataclass(frozen=True)
class _Drop:
    count: int
    bound: str  # "max_records", "max_bytes" or "max_age"
    oldest_id: str | None


def spool_path(spool_dir: Path, site_id: str) -> Path:
    """One file per site, so two agents on one box never share a spool."""
    safe = re.sub(r"[^A-Za-z0-9_.-]", "_", site_id)
    return spool_dir / f"spool-{safe}.sqlite3"


def _ignore_drop(count: int, bound: str, oldest_id: str | None) -> None:
    return None


class Spool:
    """A bounded FIFO of Kafka records in one SQLite file; safe to share between threads."""

    def __init__(self, path: Path, limits: SpoolConfig = SpoolConfig(), on_drop: DropHandler = _ignore_drop) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.limits = limits
        self.on_drop = on_drop
        self._lock = threading.Lock()
        self.set_aside: Path | None = None  # where a file SQLite could not read was moved, at start
        try:
            self._db = self._open(path)
        except sqlite3.DatabaseError as exc:  # a damaged card or disk: the buttons must work without it
            self.set_aside = path.with_name(f"{path.name}.corrupt-{time.strftime('%Y%m%dT%H%M%S')}")
            for part in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
                if part.exists():
                    part.rename(self.set_aside.with_name(self.set_aside.name + part.name[len(path.name):]))
            log.error("spool file unreadable; set aside, starting an empty spool", error=str(exc),
                      set_aside=str(self.set_aside))
            self._db = self._open(path)
        self._count, self._bytes = self._db.execute("SELECT COUNT(*), COALESCE(SUM(size), 0) FROM records").fetchone()

    @staticmethod
    def _open(path: Path) -> sqlite3.Connection:
        db = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=30)
        try:
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=FULL")
            db.executescript(SCHEMA)
        except sqlite3.DatabaseError:
            db.close()
            raise
        return db

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def __enter__(self) -> "Spool":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def append(self, record: SpoolRecord, now: float | None = None) -> int:
        """Store ``record`` durably and return its sequence number; may drop the oldest to fit."""
        if record.size > self.limits.max_bytes:
            raise ValueError(f"record of {record.size} bytes exceeds the spool's max_bytes ({self.limits.max_bytes})")
        now = time.time() if now is None else now
        with self._lock, self._transaction():
            if record.conflate is not None:
                superseded = self._db.execute("SELECT seq FROM records WHERE conflate = ?", (record.conflate,))
                self._delete([seq for (seq,) in superseded.fetchall()])
            cur = self._db.execute(
                "INSERT INTO records (topic, key, value, record_id, headers, priority, conflate, created_at, size) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (record.topic, record.key, record.value, record.record_id, _encode_headers(record.headers),
                 record.priority, record.conflate, now, record.size),
            )
            self._count += 1
            self._bytes += record.size
            drops = self._enforce_bounds(now)
        self._report(drops)
        assert cur.lastrowid is not None
        return cur.lastrowid

    def peek(self, limit: int = 500, now: float | None = None) -> list[SpooledRecord]:
        """The oldest ``limit`` records, in append order; they stay until ``ack``.

        Records past ``max_age_s`` are dropped (and counted) first rather than sent late.
        """
        now = time.time() if now is None else now
        with self._lock:
            with self._transaction():
                drops = self._drop_expired(now)
            rows = self._db.execute(
                "SELECT seq, topic, key, value, record_id, headers, priority, conflate, created_at "
                "FROM records ORDER BY seq LIMIT ?",
                (limit,),
            ).fetchall()
        self._report(drops)
        return [
            SpooledRecord(seq, SpoolRecord(topic, key, value, rid, _decode_headers(headers), priority, conflate), created)
            for seq, topic, key, value, rid, headers, priority, conflate, created in rows
        ]

    def ack(self, seqs: Iterable[int]) -> int:
        """Forget records Kafka has confirmed; returns how many were still spooled."""
        seqs = list(seqs)
        if not seqs:
            return 0
        with self._lock, self._transaction():
            return self._delete(seqs)

    def depth(self) -> int:
        with self._lock:
            return self._count

    def size_bytes(self) -> int:
        with self._lock:
            return self._bytes

    def oldest_age_s(self, now: float | None = None) -> float:
        """Age of the oldest unsent record, 0 when empty: how far behind Kafka the edge is."""
        now = time.time() if now is None else now
        with self._lock:
            (oldest,) = self._db.execute("SELECT MIN(created_at) FROM records").fetchone()
        return 0.0 if oldest is None else max(0.0, now - oldest)

    def dropped_total(self) -> int:
        """Records dropped unsent over the spool file's life, all bounds together."""
        with self._lock:
            (total,) = self._db.execute("SELECT COALESCE(SUM(value), 0) FROM counters").fetchone()
        return int(total)

    @contextmanager
    def _transaction(self) -> Iterator[None]:
        self._db.execute("BEGIN IMMEDIATE")
        try:
            yield
            self._db.execute("COMMIT")
        except BaseException:
            # SQLite rolls back by itself on some errors (disk full, I/O): a second ROLLBACK would then
            # raise "no transaction is active" in place of the real error, and skip the recount.
            if self._db.in_transaction:
                self._db.execute("ROLLBACK")
            self._recount()
            raise

    def _recount(self) -> None:
        row = self._db.execute("SELECT COUNT(*), COALESCE(SUM(size), 0) FROM records").fetchone()
        self._count, self._bytes = row

    def _report(self, drops: list[_Drop]) -> None:
        for drop in drops:
            self.on_drop(drop.count, drop.bound, drop.oldest_id)

    def _enforce_bounds(self, now: float) -> list[_Drop]:
        drops = self._drop_expired(now)
        if self._count > self.limits.max_records:
            drops += self._drop(self._drop_candidates(rows=self._count - self.limits.max_records), "max_records")
        if self._bytes > self.limits.max_bytes:
            drops += self._drop(self._drop_candidates(nbytes=self._bytes - self.limits.max_bytes), "max_bytes")
        return drops

    def _drop_expired(self, now: float) -> list[_Drop]:
        rows = self._db.execute(
            "SELECT seq, record_id, size FROM records WHERE created_at < ? ORDER BY seq", (now - self.limits.max_age_s,)
        ).fetchall()
        return self._drop(rows, "max_age")

    def _drop_candidates(self, *, rows: int = 0, nbytes: int = 0) -> list[tuple[int, str | None, int]]:
        """Records to give up, lowest priority first and oldest first within it, until at least
        ``rows`` records and ``nbytes`` bytes are chosen."""
        chosen: list[tuple[int, str | None, int]] = []
        freed = 0
        for row in self._db.execute("SELECT seq, record_id, size FROM records ORDER BY priority, seq"):
            if len(chosen) >= rows and freed >= nbytes:
                break
            chosen.append(row)
            freed += row[2]
        return chosen

    def _drop(self, rows: list[tuple[int, str | None, int]], bound: str) -> list[_Drop]:
        if not rows:
            return []
        removed = self._delete([seq for seq, _, _ in rows])
        self._db.execute(
            "INSERT INTO counters (name, value) VALUES (?, ?) "
            "ON CONFLICT(name) DO UPDATE SET value = value + excluded.value",
            (f"dropped_{bound}", removed),
        )
        return [_Drop(removed, bound, rows[0][1])]

    def _delete(self, seqs: list[int]) -> int:
        """Delete by sequence number inside the caller's transaction; keeps the counters right."""
        removed = 0
        for start in range(0, len(seqs), 500):
            chunk = seqs[start : start + 500]
            marks = ",".join("?" * len(chunk))
            n, size = self._db.execute(
                f"SELECT COUNT(*), COALESCE(SUM(size), 0) FROM records WHERE seq IN ({marks})", chunk
            ).fetchone()
            self._db.execute(f"DELETE FROM records WHERE seq IN ({marks})", chunk)
            removed += n
            self._count -= n
            self._bytes -= size
        return removed
