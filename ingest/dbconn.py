"""A PostgreSQL connection put back in order after a failed batch, or made anew when it was lost.

A restarted server, a terminated backend or a dropped socket leaves psycopg's connection closed
(``conn.closed``); everything else leaves it open in a failed or idle transaction. A worker that
recovers from a failed batch calls ``reset_connection`` and carries on with what it returns.
"""

from __future__ import annotations

import logging

import psycopg

log = logging.getLogger(__name__)


def reset_connection(conn: psycopg.Connection, url: str) -> psycopg.Connection:
    """``conn`` rolled back, or a new connection to ``url`` when ``conn`` was lost. Raises
    ``psycopg.OperationalError`` while the server cannot be reached (the caller retries later)."""
    if not conn.closed:
        try:
            conn.rollback()
            return conn
        except psycopg.OperationalError:
            log.warning("database connection failed on rollback; reconnecting")
    conn.close()
    new = psycopg.connect(url)
    log.info("database reconnected", extra={"backend_pid": new.info.backend_pid})
    return new
