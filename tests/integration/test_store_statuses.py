"""The ingest learns what dispatchers did from ``incident_statuses``, on real PostgreSQL: a status
change whose transaction started before the ingest's read and committed after it is not lost."""

from __future__ import annotations

import psycopg

from ingest import store

from .test_api_support import insert_incident


def statuses_since(url: str, since):  # one short transaction, as the ingest's batch does
    with psycopg.connect(url) as conn, conn.transaction(), conn.cursor() as cur:
        return store.incident_statuses(cur, since)


def test_a_change_committed_after_the_read_that_missed_it_is_read_next_time(settings_factory) -> None:
    url = settings_factory().database.url
    insert_incident(url, "i-1", status="open")
    first, cursor = statuses_since(url, None)
    assert first == {"i-1": "open"}

    with psycopg.connect(url) as dispatcher:
        with dispatcher.transaction():  # stamps updated_at = now(): this transaction's start
            dispatcher.execute("UPDATE incidents SET status = 'resolved', updated_at = now() WHERE id = 'i-1'")
            during, cursor = statuses_since(url, cursor)  # cannot see the uncommitted change
        after, cursor = statuses_since(url, cursor)

    assert during.get("i-1") != "resolved"  # it may re-read the row as it was: statuses are idempotent
    assert after == {"i-1": "resolved"}, "a change committed after the read that missed it must be read next time"
