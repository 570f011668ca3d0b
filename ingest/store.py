"""Idempotent writes of one ingest batch to PostgreSQL/TimescaleDB (psycopg 3).

Everything a batch changes is written in the caller's transaction: observations (COPY into a
temporary table, then ``INSERT ... ON CONFLICT DO NOTHING``, so a re-delivered message lands once),
incidents and their history, the outbox rows to publish, heartbeats, dead letters, and the engine
state. The consumer commits Kafka offsets only after that transaction commits.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from collections.abc import Iterable, Sequence
from typing import Any

from psycopg import Cursor
from psycopg.types.json import Jsonb

from gridwatch.contracts import Alert, Heartbeat, HistoryEntry, Incident, Observation, PatrolReport, parse_observation
from gridwatch.deadletter import DeadLetter
from ingest.engine import BatchResult
from ingest.grids import GridAssignment

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


def link_members(cur: Cursor, incidents: Iterable[Incident]) -> None:
    """Point every member of each incident at it (earlier members may have waited as candidates)."""
    pairs = {"alerts": [], "reports": []}  # type: dict[str, list[tuple[str, str]]]
    for incident in incidents:
        pairs["alerts"].extend((a, incident.id) for a in incident.alert_ids)
        pairs["reports"].extend((r, incident.id) for r in incident.report_ids)
    for table, links in pairs.items():
        if links:
            ids, incident_ids = zip(*links)
            cur.execute(
                f"UPDATE {table} t SET incident_id = l.incident_id FROM unnest(%s::text[], %s::text[]) "
                f"AS l(id, incident_id) WHERE t.id = l.id AND t.incident_id IS DISTINCT FROM l.incident_id",
                (list(ids), list(incident_ids)),
            )


def expire_alerts(cur: Cursor, alert_ids: list[str]) -> None:
    """Alerts of a cluster that was never confirmed: kept and queryable, marked as expired."""
    if alert_ids:
        cur.execute("UPDATE alerts SET expired_at = now() WHERE id = ANY(%s) AND incident_id IS NULL", (alert_ids,))


INCIDENT_UPSERT = """
INSERT INTO incidents (id, category, grid_id, grid_path, status, risk, level, lat, lon, first_seen, last_seen,
                       alert_ids, report_ids, members, outside_grid, updated_at)
VALUES (%(id)s, %(category)s, %(grid_id)s, %(grid_path)s, %(status)s, %(risk)s, %(level)s, %(lat)s, %(lon)s,
        %(first_seen)s, %(last_seen)s, %(alert_ids)s, %(report_ids)s, %(members)s, %(outside_grid)s, now())
ON CONFLICT (id) DO UPDATE SET
    category = EXCLUDED.category, grid_id = EXCLUDED.grid_id, grid_path = EXCLUDED.grid_path,
    outside_grid = EXCLUDED.outside_grid, merged_into = NULL,
    risk = (ARRAY['green','blue','yellow','orange','red'])[least(5,
        array_position(ARRAY['green','blue','yellow','orange','red'], EXCLUDED.risk)
        + array_position(ARRAY['grid','community','street','district'], incidents.level) - 1)],
    lat = EXCLUDED.lat, lon = EXCLUDED.lon,
    first_seen = EXCLUDED.first_seen, last_seen = EXCLUDED.last_seen,
    alert_ids = EXCLUDED.alert_ids, report_ids = EXCLUDED.report_ids, members = EXCLUDED.members,
    updated_at = now()
RETURNING status, level, risk
"""
# The engine owns members, position, times and risk; status and level belong to the dispatchers
# (API transitions) and escalation, so an update never overwrites them. The stored risk is the
# engine's raised one colour per level above grid (ingest.escalation.risk_at_level), so new evidence
# never lowers an escalated incident's risk.


def _incident_params(incident: Incident) -> dict[str, Any]:
    return {
        "id": incident.id, "category": incident.category, "grid_id": incident.grid_id,
        "grid_path": incident.grid_path, "status": incident.status, "risk": incident.risk, "level": incident.level,
        "lat": incident.lat, "lon": incident.lon, "first_seen": incident.first_seen, "last_seen": incident.last_seen,
        "alert_ids": incident.alert_ids, "report_ids": incident.report_ids,
        "members": Jsonb([m.model_dump(mode="json") for m in incident.members]),
        "outside_grid": incident.outside_grid,
    }


def write_batch_result(cur: Cursor, result: BatchResult) -> None:
    """Everything the engine decided in one batch: incidents, merges, reopenings, expiries."""
    write_incidents(cur, result.touched.values())
    link_members(cur, result.touched.values())
    for old, new in result.merged.items():
        merge_incident(cur, old, new)
    for incident_id in result.reopened:
        reopen_incident(cur, incident_id)
    expire_alerts(cur, result.expired)


def merge_incident(cur: Cursor, old: str, new: str) -> None:
    """``old`` lives on as ``new`` (which already holds all its members): mark it and say so."""
    cur.execute("UPDATE incidents SET merged_into = %s, updated_at = now() WHERE id = %s AND merged_into IS DISTINCT FROM %s "
                "RETURNING status", (new, old, new))
    row = cur.fetchone()
    if row is None:
        return
    at = datetime.now(timezone.utc)
    _append_history(cur, old, [HistoryEntry(at=at, actor="engine", action="merge", status=row[0],
                                            reason=f"merged into {new}: the same event")])
    _append_history(cur, new, [HistoryEntry(at=at, actor="engine", action="merge", status=row[0],
                                            reason=f"took over {old}: the same event")])
    _queue(cur, old)


def reopen_incident(cur: Cursor, incident_id: str) -> None:
    """New evidence for a resolved incident (or a patrol report for a dismissed one) reopens it."""
    cur.execute("UPDATE incidents SET status = 'open', updated_at = now() WHERE id = %s "
                "AND status IN ('resolved', 'dismissed') RETURNING status", (incident_id,))
    if cur.fetchone() is not None:
        _append_history(cur, incident_id, [HistoryEntry(at=datetime.now(timezone.utc), actor="engine", action="reopen",
                                                        status="open", reason="new evidence after it was resolved")])
        _queue(cur, incident_id)


def _queue(cur: Cursor, incident_id: str) -> None:
    """Queue the stored state of an incident for publication on gridwatch.incidents."""
    cur.execute("SELECT payload FROM incident_outbox WHERE incident_id = %s ORDER BY seq DESC LIMIT 1", (incident_id,))
    row = cur.fetchone()
    cur.execute("SELECT status, merged_into FROM incidents WHERE id = %s", (incident_id,))
    status, merged_into = cur.fetchone()  # type: ignore[misc]
    if row is not None:
        payload = {**row[0], "status": status, "merged_into": merged_into,
                   "history": [h.model_dump(mode="json") for h in _history(cur, incident_id)]}
        cur.execute("INSERT INTO incident_outbox (incident_id, payload) VALUES (%s, %s)", (incident_id, Jsonb(payload)))


def write_incidents(cur: Cursor, incidents: Iterable[Incident]) -> None:
    """Upsert incidents, append their new engine history, and queue them for publication."""
    for incident in incidents:
        cur.execute(INCIDENT_UPSERT, _incident_params(incident))
        status, level, risk = cur.fetchone()  # type: ignore[misc]
        _append_history(cur, incident.id, incident.history)
        stored = incident.model_copy(update={"status": status, "level": level, "risk": risk,
                                             "history": _history(cur, incident.id)})
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


RECENT_SQL = """
WITH latest AS (SELECT greatest((SELECT max(observed_at) FROM alerts), (SELECT max(reported_at) FROM reports)) AS t),
     live AS (SELECT id FROM incidents, latest WHERE merged_into IS NULL AND last_seen >= latest.t - %(horizon)s)
SELECT payload, observed_at AS at, id FROM alerts, latest
 WHERE observed_at >= latest.t - %(horizon)s OR incident_id IN (SELECT id FROM live)
UNION ALL
SELECT payload, reported_at AS at, id FROM reports, latest
 WHERE reported_at >= latest.t - %(horizon)s OR incident_id IN (SELECT id FROM live)
ORDER BY at, id
"""


def recent_observations(cur: Cursor, horizon: timedelta) -> list[Observation]:
    """What the engine must see again at start to be where it was: every observation within
    ``horizon`` of the newest, and every member of an incident still within it."""
    cur.execute(RECENT_SQL, {"horizon": horizon})
    return [parse_observation(row[0]) for row in cur.fetchall()]


def incident_statuses(cur: Cursor, since: datetime | None) -> tuple[dict[str, str], datetime]:
    """Statuses of incidents changed since ``since`` (all when None), and the time to ask from next."""
    cur.execute("SELECT now()")
    now = cur.fetchone()[0]  # type: ignore[index]
    if since is None:
        cur.execute("SELECT id, status FROM incidents WHERE merged_into IS NULL")
    else:
        cur.execute("SELECT id, status FROM incidents WHERE updated_at >= %s AND merged_into IS NULL", (since,))
    return dict(cur.fetchall()), now
