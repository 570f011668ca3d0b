"""Idempotent writes of one ingest batch to PostgreSQL/TimescaleDB (psycopg 3).

Everything a batch changes is written in the caller's transaction: observations (COPY into a
temporary table, then ``INSERT ... ON CONFLICT DO NOTHING``, so a re-delivered message lands once),
incidents and their history, the outbox rows to publish, heartbeats, dead letters, and the engine
state. The consumer commits Kafka offsets only after that transaction commits.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import Any

from psycopg import Cursor
from psycopg.types.json import Jsonb

from gridwatch.contracts import Alert, Heartbeat, HistoryEntry, Incident, Observation, PatrolReport
from gridwatch.deadletter import DeadLetter
from ingest.engine import EngineState
from ingest.grids import GridAssignment

ENGINE_STATE_NAME = "incident-engine"

ALERT_COLUMNS = ("id", "observed_at", "category", "type", "device_id", "site_id", "lat", "lon", "confidence",
                 "grid_id", "grid_path", "payload")
REPORT_COLUMNS = ("id", "reported_at", "category", "worker_id", "lat", "lon", "text", "grid_id", "grid_path", "payload")


def _alert_row(alert: Alert, grid: GridAssignment) -> tuple[Any, ...]:
    return (alert.id, alert.observed_at, alert.category, alert.type, alert.device_id, alert.site_id, alert.lat,
            alert.lon, alert.confidence, grid.grid_id, list(grid.path), Jsonb(alert.model_dump(mode="json")))


def _report_row(report: PatrolReport, grid: GridAssignment) -> tuple[Any, ...]:
    return (report.id, report.reported_at, report.category, report.worker_id, report.lat, report.lon, report.text,
            grid.grid_id, list(grid.path), Jsonb(report.model_dump(mode="json")))


def _copy_insert(cur: Cursor, table: str, time_column: str, columns: Sequence[str], rows: list[tuple[Any, ...]]) -> set[str]:
    """Bulk-insert ``rows`` and return the ids that were new (not already stored)."""
    if not rows:
        return set()
    staging = f"_staging_{table}"
    cur.execute(f"CREATE TEMP TABLE IF NOT EXISTS {staging} (LIKE {table} INCLUDING DEFAULTS) ON COMMIT DELETE ROWS")
    cols = ", ".join(columns)
    with cur.copy(f"COPY {staging} ({cols}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row(row)
    cur.execute(
        f"INSERT INTO {table} ({cols}) SELECT DISTINCT ON (id, {time_column}) {cols} FROM {staging} "
        f"ON CONFLICT DO NOTHING RETURNING id"
    )
    new_ids = {r[0] for r in cur.fetchall()}
    cur.execute(f"TRUNCATE {staging}")
    return new_ids


def insert_observations(cur: Cursor, items: Iterable[tuple[Observation, GridAssignment]]) -> set[str]:
    """Store alerts and reports; return the ids stored for the first time."""
    alerts, reports = [], []
    for observation, grid in items:
        if isinstance(observation, Alert):
            alerts.append(_alert_row(observation, grid))
        else:
            reports.append(_report_row(observation, grid))
    return _copy_insert(cur, "alerts", "observed_at", ALERT_COLUMNS, alerts) | _copy_insert(
        cur, "reports", "reported_at", REPORT_COLUMNS, reports
    )


def link_members(cur: Cursor, links: list[tuple[Observation, str]]) -> None:
    """Record which incident each observation joined."""
    alert_links = [(o.id, i) for o, i in links if isinstance(o, Alert)]
    report_links = [(o.id, i) for o, i in links if isinstance(o, PatrolReport)]
    for table, pairs in (("alerts", alert_links), ("reports", report_links)):
        if pairs:
            ids, incident_ids = zip(*pairs)
            cur.execute(
                f"UPDATE {table} t SET incident_id = l.incident_id FROM unnest(%s::text[], %s::text[]) "
                f"AS l(id, incident_id) WHERE t.id = l.id",
                (list(ids), list(incident_ids)),
            )


INCIDENT_UPSERT = """
INSERT INTO incidents (id, category, grid_id, grid_path, status, risk, level, lat, lon, first_seen, last_seen,
                       alert_ids, report_ids, members, updated_at)
VALUES (%(id)s, %(category)s, %(grid_id)s, %(grid_path)s, %(status)s, %(risk)s, %(level)s, %(lat)s, %(lon)s,
        %(first_seen)s, %(last_seen)s, %(alert_ids)s, %(report_ids)s, %(members)s, now())
ON CONFLICT (id) DO UPDATE SET
    risk = EXCLUDED.risk, lat = EXCLUDED.lat, lon = EXCLUDED.lon,
    first_seen = EXCLUDED.first_seen, last_seen = EXCLUDED.last_seen,
    alert_ids = EXCLUDED.alert_ids, report_ids = EXCLUDED.report_ids, members = EXCLUDED.members,
    updated_at = now()
RETURNING status, level
"""
# The engine owns members, position, times and risk; status and level belong to the dispatchers
# (API transitions), so an update never overwrites them.


def _incident_params(incident: Incident) -> dict[str, Any]:
    return {
        "id": incident.id, "category": incident.category, "grid_id": incident.grid_id,
        "grid_path": incident.grid_path, "status": incident.status, "risk": incident.risk, "level": incident.level,
        "lat": incident.lat, "lon": incident.lon, "first_seen": incident.first_seen, "last_seen": incident.last_seen,
        "alert_ids": incident.alert_ids, "report_ids": incident.report_ids,
        "members": Jsonb([m.model_dump(mode="json") for m in incident.members]),
    }


def write_incidents(cur: Cursor, incidents: Iterable[Incident]) -> None:
    """Upsert incidents, append their new engine history, and queue them for publication."""
    for incident in incidents:
        cur.execute(INCIDENT_UPSERT, _incident_params(incident))
        status, level = cur.fetchone()  # type: ignore[misc]
        _append_history(cur, incident.id, incident.history)
        stored = incident.model_copy(update={"status": status, "level": level, "history": _history(cur, incident.id)})
        cur.execute(
            "INSERT INTO incident_outbox (incident_id, payload) VALUES (%s, %s)",
            (incident.id, Jsonb(stored.model_dump(mode="json"))),
        )


def _history(cur: Cursor, incident_id: str) -> list[HistoryEntry]:
    """The whole stored history, the dispatchers' entries included, for the published incident."""
    cur.execute("SELECT at, actor, action, status, reason FROM incident_history WHERE incident_id = %s ORDER BY seq",
                (incident_id,))
    return [HistoryEntry(at=at, actor=actor, action=action, status=status, reason=reason)
            for at, actor, action, status, reason in cur.fetchall()]


def _append_history(cur: Cursor, incident_id: str, history: list[HistoryEntry]) -> None:
    """Insert the engine's history entries not stored yet (matched on time, actor and action)."""
    for entry in history:
        cur.execute(
            """INSERT INTO incident_history (incident_id, seq, at, actor, action, status, reason)
               SELECT %(id)s, coalesce(max(seq), 0) + 1, %(at)s, %(actor)s, %(action)s, %(status)s, %(reason)s
               FROM incident_history WHERE incident_id = %(id)s
               HAVING NOT EXISTS (SELECT 1 FROM incident_history WHERE incident_id = %(id)s
                                  AND at = %(at)s AND actor = %(actor)s AND action = %(action)s)""",
            {"id": incident_id, **entry.model_dump(include={"at", "actor", "action", "status", "reason"})},
        )


def write_heartbeats(cur: Cursor, heartbeats: list[Heartbeat]) -> None:
    for hb in heartbeats:
        attributes = Jsonb(hb.attributes)
        cur.execute(
            "INSERT INTO device_heartbeats (device_id, seen_at, site_id, device_type, status, attributes) "
            "VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT DO NOTHING",
            (hb.device_id, hb.seen_at, hb.site_id, hb.device_type, hb.status, attributes),
        )
        upsert_device(cur, hb.device_id, hb.site_id, hb.device_type, hb.status, hb.seen_at, hb.attributes)


def upsert_device(cur: Cursor, device_id: str, site_id: str, device_type: str, status: str, at: Any,
                  attributes: dict[str, Any]) -> None:
    """Keep the latest known state of a device; an older message never overwrites a newer one."""
    cur.execute(
        """INSERT INTO devices (device_id, site_id, device_type, status, last_seen, attributes)
           VALUES (%s, %s, %s, %s, %s, %s)
           ON CONFLICT (device_id) DO UPDATE SET site_id = EXCLUDED.site_id, device_type = EXCLUDED.device_type,
               status = EXCLUDED.status, last_seen = EXCLUDED.last_seen, attributes = EXCLUDED.attributes
           WHERE devices.last_seen <= EXCLUDED.last_seen""",
        (device_id, site_id, device_type, status, at, Jsonb(attributes)),
    )


def mark_offline_devices(cur: Cursor, alerts: list[Alert]) -> None:
    for alert in alerts:
        if alert.type == "device_offline":
            upsert_device(cur, alert.device_id, alert.site_id, str(alert.attributes.get("device_type", "unknown")),
                          "offline", alert.observed_at, {"last_alert": alert.id})


def write_dead_letters(cur: Cursor, letters: list[tuple[DeadLetter, str, int, int]]) -> None:
    """Store dead letters with the deadletter topic's own coordinates, so a re-delivery lands once."""
    for letter, topic, partition, offset in letters:
        cur.execute(
            """INSERT INTO dead_letters (received_at, source, topic, partition, "offset", key, reason, payload, context)
               VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s) ON CONFLICT DO NOTHING""",
            (letter.received_at, letter.source, topic, partition, offset, letter.key, letter.reason,
             letter.payload, Jsonb({**letter.context, "original_topic": letter.topic})),
        )


def save_engine_state(cur: Cursor, state: EngineState) -> None:
    cur.execute(
        "INSERT INTO engine_state (name, state, updated_at) VALUES (%s, %s, now()) "
        "ON CONFLICT (name) DO UPDATE SET state = EXCLUDED.state, updated_at = now()",
        (ENGINE_STATE_NAME, Jsonb(state.to_json())),
    )


def load_engine_state(cur: Cursor) -> EngineState | None:
    cur.execute("SELECT state FROM engine_state WHERE name = %s", (ENGINE_STATE_NAME,))
    row = cur.fetchone()
    return None if row is None else EngineState.from_json(row[0] if isinstance(row[0], dict) else json.loads(row[0]))
