"""Rejected input kept for operators (written by the ingest from the deadletter topic)."""

from __future__ import annotations

from psycopg import Connection
from psycopg.rows import DictRow

from api.schemas import DeadLetterPublic
from api.store.sql import Where


def list_dead_letters(conn: Connection[DictRow], source: str | None, limit: int,
                      offset: int) -> tuple[list[DeadLetterPublic], int]:
    where = Where().add("source = %(source)s", source=source)
    rows = conn.execute(
        'SELECT id, received_at, source, topic, partition, "offset", key, reason, payload, context '
        f"FROM dead_letters{where.sql()} ORDER BY received_at DESC, id DESC LIMIT %(limit)s OFFSET %(offset)s",
        {**where.params, "limit": limit, "offset": offset},
    ).fetchall()
    total = conn.execute(f"SELECT count(*) AS n FROM dead_letters{where.sql()}", where.params).fetchone()
    return [DeadLetterPublic.model_validate(r) for r in rows], int(total["n"]) if total else 0
