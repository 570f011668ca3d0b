"""Reading ``incident_outbox`` for the live feed: which incidents changed, in ``seq`` order.

The feed reads the outbox rather than ``incidents.updated_at`` because every change, the engine's
and the dispatchers', goes through it in the same transaction as the change itself.
"""

from __future__ import annotations

from collections.abc import Collection

from psycopg import Connection
from psycopg.rows import DictRow

FEED_BATCH = 1000


def latest_seq(conn: Connection[DictRow]) -> int:
    row = conn.execute("SELECT coalesce(max(seq), 0) AS seq FROM incident_outbox").fetchone()
    return int(row["seq"]) if row else 0


def changes_after(conn: Connection[DictRow], watermark: int, already_sent: Collection[int],
                  limit: int = FEED_BATCH) -> list[tuple[int, str]]:
    """(seq, incident_id) above ``watermark``, skipping seqs the feed has sent already."""
    rows = conn.execute(
        "SELECT seq, incident_id FROM incident_outbox WHERE seq > %s AND seq <> ALL(%s) ORDER BY seq LIMIT %s",
        (watermark, list(already_sent), limit),
    ).fetchall()
    return [(int(r["seq"]), r["incident_id"]) for r in rows]
