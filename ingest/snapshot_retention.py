"""Evidence pictures past their retention are deleted, a bounded batch per transaction.

Snapshots are not a hypertable (they are looked up by alert id, and a re-sent one must land once),
so TimescaleDB's retention policies do not reach them; the same periodic delete runs on TimescaleDB
and on plain PostgreSQL. Age is when the picture was taken, on the wall clock of the server. A
batch is small enough that the snapshot consumer's inserts never wait long behind it.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import psycopg

PRUNE_BATCH = 2000
PRUNE_SQL = (
    "DELETE FROM snapshots WHERE alert_id IN "
    "(SELECT alert_id FROM snapshots WHERE taken_at < %s ORDER BY taken_at LIMIT %s)"
)


def retention_cutoff(now: datetime, retention_days: float) -> datetime | None:
    """Pictures taken before this are past retention; None when they are kept forever (0 days)."""
    return now - timedelta(days=retention_days) if retention_days > 0 else None


def prune_snapshots(conn: psycopg.Connection, cutoff: datetime, batch: int = PRUNE_BATCH) -> int:
    """Delete every picture taken before ``cutoff``, ``batch`` rows per transaction; returns how many."""
    deleted = 0
    while True:
        with conn.transaction(), conn.cursor() as cur:
            cur.execute(PRUNE_SQL, (cutoff, batch))
            count = cur.rowcount
        deleted += count
        if count < batch:
            return deleted
