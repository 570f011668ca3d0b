"""Idempotent writes of one ingest batch to PostgreSQL/TimescaleDB (psycopg 3).

Everything a batch changes is written in the caller's transaction: observations (the ids not
stored yet are looked up first and only those are written, by COPY, after the engine has said
which incident each joins, so a re-delivered message lands once), incidents and their history, the
outbox rows to publish, heartbeats and dead letters. The consumer commits Kafka offsets only after
that transaction commits.

Writes are set-based: incident rows go to a session's temporary staging table by COPY and one
statement moves them all (``WITH staged AS (DELETE FROM staging RETURNING ...) INSERT ...``, which
leaves the staging table empty for its next use in the same transaction); small per-row writes go
by ``executemany``, which psycopg sends in pipeline mode. A batch costs a few round trips, not a
few per incident.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta, timezone
from itertools import repeat
from typing import Any

from psycopg import Cursor
from psycopg.types.json import Jsonb
from pydantic import TypeAdapter

from gridwatch.contracts import (Alert, Heartbeat, HistoryEntry, Incident, Member, Observation, PatrolReport,
                                 event_time, parse_observation)
from gridwatch.deadletter import DeadLetter
from ingest.binarycopy import PathArrays, copy_binary
from ingest.engine import BatchResult
from ingest.grids import GridAssignment
from ingest.linkmirror import LinkMirror, Links

# New observations' columns and types, for their binary COPY (ingest/binarycopy.py).
ALERT_COPY = (("id", "text"), ("observed_at", "timestamptz"), ("category", "text"), ("type", "text"),
              ("device_id", "text"), ("site_id", "text"), ("lat", "float8"), ("lon", "float8"),
              ("confidence", "float4"), ("grid_id", "text"), ("grid_path", "text[]"), ("payload", "jsonb"),
              ("incident_id", "text"))
REPORT_COPY = (("id", "text"), ("reported_at", "timestamptz"), ("category", "text"), ("worker_id", "text"),
               ("lat", "float8"), ("lon", "float8"), ("text", "text"), ("grid_id", "text"), ("grid_path", "text[]"),
               ("payload", "jsonb"), ("incident_id", "text"))

STAGING_TABLES = {
    "_staging_incidents": "(LIKE incidents INCLUDING DEFAULTS, ord integer NOT NULL)",
    "_staging_history": "(incident_id text, ord integer, at timestamptz, actor text, action text, status text, "
                        "reason text)",
    "_staging_outbox": "(ord integer, incident_id text, payload jsonb)",
}
STAGE_SQL = "; ".join(f"CREATE TEMP TABLE IF NOT EXISTS {name} {shape} ON COMMIT DELETE ROWS"
                      for name, shape in STAGING_TABLES.items())


def stage(cur: Cursor) -> None:
    """Make this session's staging tables where missing, in one round trip (they live as long as
    the connection, and a rolled-back transaction takes a new one with it)."""
    cur.execute(STAGE_SQL)


def _copy(cur: Cursor, table: str, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
    with cur.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row(row)


def text_array(items: Sequence[str]) -> str:
    """PostgreSQL's text form of a ``text[]``, every element quoted: several times cheaper than
    psycopg's list dumper, which dumps element by element in Python (grid paths, an incident's
    member ids, the links of a batch)."""
    quoted = ('"' + item.replace("\\", "\\\\").replace('"', '\\"') + '"' for item in items)
    return "{" + ",".join(quoted) + "}"


# The payload is the message's own text where decode kept it (see ``insert_observations``), a dump
# of the model otherwise.
def _alert_row(alert: Alert, grid: GridAssignment, paths: PathArrays, payload: str | None,
               incident_id: str | None) -> tuple[Any, ...]:
    return (alert.id, alert.observed_at, alert.category, alert.type, alert.device_id, alert.site_id, alert.lat,
            alert.lon, alert.confidence, grid.grid_id, paths[grid.path], payload or alert.model_dump_json(),
            incident_id)


def _report_row(report: PatrolReport, grid: GridAssignment, paths: PathArrays, payload: str | None,
                incident_id: str | None) -> tuple[Any, ...]:
    return (report.id, report.reported_at, report.category, report.worker_id, report.lat, report.lon, report.text,
            grid.grid_id, paths[grid.path], payload or report.model_dump_json(), incident_id)


ObservationKey = tuple[str, str, datetime]  # kind, id, event time: what makes an alert or report itself


def observation_key(observation: Observation) -> ObservationKey:
    return observation.kind, observation.id, event_time(observation)


def stored_keys(cur: Cursor, observations: Sequence[Observation]) -> set[ObservationKey]:
    """The keys of ``observations`` stored already; the others are the engine's input. Asked by id
    alone (one probe of the primary key's leading column per observation, nothing written), sent as
    one ``text[]`` literal; the keys that come back are matched with their time here. The answer is
    the few re-delivered or re-sent messages, usually none, rather than the whole batch back."""
    stored: set[ObservationKey] = set()
    for table, time_column, kind in (("alerts", "observed_at", "alert"), ("reports", "reported_at", "report")):
        ids = [o.id for o in observations if o.kind == kind]
        if ids:
            cur.execute(f"SELECT id, {time_column} FROM {table} WHERE id = ANY(%s::text[])", (text_array(ids),))
            stored.update((kind, observation_id, at) for observation_id, at in cur.fetchall())
    return stored


def insert_observations(cur: Cursor, items: Iterable[tuple[Observation, GridAssignment]],
                        links: Links | None = None, texts: Sequence[str | None] | None = None) -> None:
    """COPY observations (in binary) straight into ``alerts`` and ``reports``, each pointing at its incident in
    ``links``: one write per row, after the engine, rather than an insert and then an update (which
    writes every index of the row twice). Pass only observations ``stored_keys`` did not find in the
    same transaction (the ingest is their only writer); a repeat within ``items`` is written once.

    ``texts``: beside each item, the message it came in, to store as its ``payload`` as it is
    (validated JSON that jsonb takes: ingest.decode.stored_as_is); the model's dump where None.
    The stored payload is then what was received, extra fields and all, rather than a re-dump."""
    incident_of = {table: dict(pairs) for table, pairs in (links or {"alerts": [], "reports": []}).items()}
    alerts: list[tuple[Any, ...]] = []
    reports: list[tuple[Any, ...]] = []
    written: set[ObservationKey] = set()
    paths = PathArrays()
    for (observation, grid), text in zip(items, texts if texts is not None else repeat(None)):
        key = observation_key(observation)
        if key in written:
            continue
        written.add(key)
        if isinstance(observation, Alert):
            alerts.append(_alert_row(observation, grid, paths, text, incident_of["alerts"].get(observation.id)))
        else:
            reports.append(_report_row(observation, grid, paths, text, incident_of["reports"].get(observation.id)))
    for table, columns, rows in (("alerts", ALERT_COPY, alerts), ("reports", REPORT_COPY, reports)):
        if rows:
            copy_binary(cur, table, columns, rows)


def member_links(incidents: Iterable[Incident]) -> Links:
    """Every (observation, incident) link of ``incidents``, one incident per observation."""
    return LinkMirror().changed(incidents)


def link_members(cur: Cursor, links: Links) -> None:
    """Point stored observations at their incidents (earlier members may have waited as candidates)."""
    for table, pairs in links.items():
        if pairs:
            cur.execute(
                f"UPDATE {table} t SET incident_id = l.incident_id FROM unnest(%s::text[], %s::text[]) "
                f"AS l(id, incident_id) WHERE t.id = l.id AND t.incident_id IS DISTINCT FROM l.incident_id",
                (text_array([p[0] for p in pairs]), text_array([p[1] for p in pairs])),
            )


def expire_alerts(cur: Cursor, alert_ids: list[str]) -> None:
    """Alerts of a cluster that was never confirmed: kept and queryable, marked as expired."""
    if alert_ids:
        cur.execute("UPDATE alerts SET expired_at = now() WHERE id = ANY(%s) AND incident_id IS NULL", (alert_ids,))


# The incident columns, in one place. The engine owns members, position, times and risk and
# overwrites them on every change; status and level belong to the dispatchers (API transitions) and
# escalation, so they are written when an incident is first stored and never overwritten.
# A rule such as "escalation owns risk too" is a move of "risk" from the first list to the second;
# one such as "the stored risk is the engine's, raised by the stored level" is an entry of
# INCIDENT_UPDATE_RULES (SQL over EXCLUDED.* and incidents.*). The published incident carries the
# stored status, level and risk (RETURNING).
INCIDENT_OVERWRITTEN = ("category", "grid_id", "grid_path", "outside_grid", "risk", "lat", "lon", "first_seen",
                        "last_seen", "alert_ids", "report_ids", "members")
INCIDENT_INSERT_ONLY = ("status", "level")
INCIDENT_COLUMNS = ("id",) + INCIDENT_INSERT_ONLY + INCIDENT_OVERWRITTEN
# The stored risk is the engine's raised one colour per level above grid (escalation's
# ingest.escalation.risk_at_level), so new evidence never lowers an escalated incident's risk.
RISKS, LEVELS = "ARRAY['green','blue','yellow','orange','red']", "ARRAY['grid','community','street','district']"
INCIDENT_UPDATE_RULES: dict[str, str] = {  # column -> SQL expression, instead of EXCLUDED.column
    "risk": f"({RISKS})[least(5, array_position({RISKS}, EXCLUDED.risk) + array_position({LEVELS}, incidents.level) - 1)]",
}

INCIDENT_UPSERT = f"""
WITH staged AS (DELETE FROM _staging_incidents RETURNING *)
INSERT INTO incidents ({", ".join(INCIDENT_COLUMNS)}, updated_at)
SELECT {", ".join(INCIDENT_COLUMNS)}, now() FROM staged ORDER BY ord
ON CONFLICT (id) DO UPDATE SET
    {", ".join(f"{c} = {INCIDENT_UPDATE_RULES.get(c, f'EXCLUDED.{c}')}" for c in INCIDENT_OVERWRITTEN)},
    merged_into = NULL, updated_at = now()
RETURNING id, status, level, risk
"""

HISTORY_COLUMNS = ("incident_id", "ord", "at", "actor", "action", "status", "reason")

# New engine history entries (not stored yet: matched on time, actor and action), numbered after
# each incident's last stored entry in the order the engine gave them.
HISTORY_APPEND = """
WITH staged AS (DELETE FROM _staging_history RETURNING *)
INSERT INTO incident_history (incident_id, seq, at, actor, action, status, reason)
SELECT n.incident_id, coalesce(last.seq, 0) + row_number() OVER (PARTITION BY n.incident_id ORDER BY n.ord),
       n.at, n.actor, n.action, n.status, n.reason
  FROM (SELECT DISTINCT ON (s.incident_id, s.at, s.actor, s.action) s.*
          FROM staged s
         WHERE NOT EXISTS (SELECT 1 FROM incident_history h WHERE h.incident_id = s.incident_id
                             AND h.at = s.at AND h.actor = s.actor AND h.action = s.action)
         ORDER BY s.incident_id, s.at, s.actor, s.action, s.ord) n
  LEFT JOIN LATERAL (SELECT max(h.seq) AS seq FROM incident_history h WHERE h.incident_id = n.incident_id) last ON true
"""

MEMBERS = TypeAdapter(list[Member])


def _members_json(incident: Incident) -> str:
    return MEMBERS.dump_json(incident.members).decode()


def _incident_row(ord_: int, incident: Incident) -> tuple[Any, ...]:
    values = {"id": incident.id, "status": incident.status, "level": incident.level, "category": incident.category,
              "grid_id": incident.grid_id, "grid_path": incident.grid_path, "outside_grid": incident.outside_grid,
              "risk": incident.risk, "lat": incident.lat, "lon": incident.lon, "first_seen": incident.first_seen,
              "last_seen": incident.last_seen, "alert_ids": text_array(incident.alert_ids),
              "report_ids": text_array(incident.report_ids),
              "members": _members_json(incident)}
    return (ord_,) + tuple(values[c] for c in INCIDENT_COLUMNS)


def write_batch_result(cur: Cursor, result: BatchResult, links: Links | None = None) -> None:
    """Everything the engine decided in one batch: incidents, merges, reopenings, expiries.
    ``links``: the member links of stored observations to write (all of them when None)."""
    write_incidents(cur, result.touched.values())
    link_members(cur, member_links(live_incidents(result)) if links is None else links)
    for old, new in result.merged.items():
        merge_incident(cur, old, new)
    for incident_id in result.reopened:
        reopen_incident(cur, incident_id)
    expire_alerts(cur, result.expired)


def live_incidents(result: BatchResult) -> list[Incident]:
    """The touched incidents not merged away in the batch: their members are the ones to link."""
    return [incident for incident_id, incident in result.touched.items() if incident_id not in result.merged]


# When ``old`` was escalated higher than ``new``, ``new`` takes its level, the time of that escalation
# (the clock of the level) and the risk raised to that level (never below ``old``'s).
# A renamed incident is inserted anew (created_at now): its escalation clocks must run from the raise of
# the one it takes over, and a reopening of either still counts.
TAKE_OVER_CLOCKS = """
UPDATE incidents n SET created_at = least(n.created_at, o.created_at), reopened_at = greatest(n.reopened_at, o.reopened_at)
  FROM incidents o
 WHERE n.id = %(new)s AND o.id = %(old)s
"""

TAKE_OVER_LEVEL = f"""
UPDATE incidents n SET level = o.level, escalated_at = o.escalated_at, updated_at = now(),
       risk = ({RISKS})[greatest(array_position({RISKS}, o.risk),
                                 least(5, array_position({RISKS}, n.risk) + array_position({LEVELS}, o.level)
                                          - array_position({LEVELS}, n.level)))]
  FROM incidents o
 WHERE n.id = %(new)s AND o.id = %(old)s AND array_position({LEVELS}, o.level) > array_position({LEVELS}, n.level)
RETURNING n.level
"""


def merge_incident(cur: Cursor, old: str, new: str) -> None:
    """``old`` lives on as ``new`` (which already holds all its members): mark it, say so, and keep
    on ``new`` the higher escalation of the two, the earlier raise (the escalation clocks run from
    it) and the dispatchers' and escalations' entries of ``old``'s history (who assigned it, to whom)."""
    cur.execute("UPDATE incidents SET merged_into = %s, updated_at = now() WHERE id = %s AND merged_into IS DISTINCT FROM %s "
                "RETURNING status", (new, old, new))
    row = cur.fetchone()
    if row is None:
        return
    cur.execute(TAKE_OVER_LEVEL, {"old": old, "new": new})
    taken = cur.fetchone()
    cur.execute(TAKE_OVER_CLOCKS, {"old": old, "new": new})
    kept = f"; kept its {taken[0]} level" if taken is not None else ""
    at = datetime.now(timezone.utc)
    stage(cur)
    carried = [(new, e.model_copy(update={"reason": f"{e.reason} (on {old}, before the merge)"}))
               for e in _histories(cur, [old])[old] if e.actor != "engine"]
    _append_history(cur, [(old, HistoryEntry(at=at, actor="engine", action="merge", status=row[0],
                                             reason=f"merged into {new}: the same event")),
                          *carried,
                          (new, HistoryEntry(at=at, actor="engine", action="merge", status=row[0],
                                             reason=f"took over {old}: the same event{kept}"))])
    _queue(cur, old)
    _queue(cur, new)


def reopen_incident(cur: Cursor, incident_id: str) -> None:
    """New evidence for a resolved incident (or a patrol report for a dismissed one) reopens it."""
    cur.execute("UPDATE incidents SET status = 'open', updated_at = now() WHERE id = %s "
                "AND status IN ('resolved', 'dismissed') RETURNING status", (incident_id,))
    if cur.fetchone() is not None:
        stage(cur)
        _append_history(cur, [(incident_id, HistoryEntry(at=datetime.now(timezone.utc), actor="engine",
                                                         action="reopen", status="open",
                                                         reason="new evidence after it was resolved"))])
        _queue(cur, incident_id)


def _queue(cur: Cursor, incident_id: str) -> None:
    """Queue the stored state of an incident for publication on gridwatch.incidents."""
    cur.execute("SELECT payload FROM incident_outbox WHERE incident_id = %s ORDER BY seq DESC LIMIT 1", (incident_id,))
    row = cur.fetchone()
    cur.execute("SELECT status, merged_into, level, risk FROM incidents WHERE id = %s", (incident_id,))
    status, merged_into, level, risk = cur.fetchone()  # type: ignore[misc]
    if row is not None:
        payload = {**row[0], "status": status, "merged_into": merged_into, "level": level, "risk": risk,
                   "history": [h.model_dump(mode="json") for h in _histories(cur, [incident_id])[incident_id]]}
        cur.execute("INSERT INTO incident_outbox (incident_id, payload) VALUES (%s, %s)", (incident_id, Jsonb(payload)))


def write_incidents(cur: Cursor, incidents: Iterable[Incident]) -> None:
    """Upsert incidents, append their new engine history, and queue them for publication: one COPY
    and one statement for each of the three, whatever the number of incidents."""
    incidents = list(incidents)
    if not incidents:
        return
    stage(cur)
    _copy(cur, "_staging_incidents", ("ord",) + INCIDENT_COLUMNS,
          (_incident_row(n, incident) for n, incident in enumerate(incidents)))
    cur.execute(INCIDENT_UPSERT)
    stored_as = {incident_id: (status, level, risk) for incident_id, status, level, risk in cur.fetchall()}
    _append_history(cur, [(incident.id, entry) for incident in incidents for entry in incident.history])
    histories = _histories(cur, [incident.id for incident in incidents])
    payloads = []
    for incident in incidents:
        status, level, risk = stored_as[incident.id]
        stored = incident.model_copy(update={"status": status, "level": level, "risk": risk,
                                             "history": histories[incident.id]})
        payloads.append((len(payloads), incident.id, stored.model_dump_json()))
    _copy(cur, "_staging_outbox", ("ord", "incident_id", "payload"), payloads)
    cur.execute("WITH staged AS (DELETE FROM _staging_outbox RETURNING *) "
                "INSERT INTO incident_outbox (incident_id, payload) SELECT incident_id, payload FROM staged ORDER BY ord")


def _histories(cur: Cursor, incident_ids: list[str]) -> dict[str, list[HistoryEntry]]:
    """The whole stored history of each incident, the dispatchers' entries included, for publication."""
    cur.execute("SELECT incident_id, at, actor, action, status, reason FROM incident_history "
                "WHERE incident_id = ANY(%s) ORDER BY incident_id, seq", (incident_ids,))
    histories: dict[str, list[HistoryEntry]] = {incident_id: [] for incident_id in incident_ids}
    for incident_id, at, actor, action, status, reason in cur.fetchall():
        histories[incident_id].append(HistoryEntry(at=at, actor=actor, action=action, status=status, reason=reason))
    return histories


def _append_history(cur: Cursor, entries: list[tuple[str, HistoryEntry]]) -> None:
    """Insert the engine's history entries not stored yet (matched on time, actor and action)."""
    if not entries:
        return
    _copy(cur, "_staging_history", HISTORY_COLUMNS,
          ((incident_id, n, e.at, e.actor, e.action, e.status, e.reason) for n, (incident_id, e) in enumerate(entries)))
    cur.execute(HISTORY_APPEND)


HEARTBEAT_INSERT = """INSERT INTO device_heartbeats (device_id, seen_at, site_id, device_type, status, attributes)
VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT DO NOTHING"""

# Keep the latest known state of a device; an older message never overwrites a newer one.
DEVICE_UPSERT = """INSERT INTO devices (device_id, site_id, device_type, status, last_seen, attributes)
VALUES (%s, %s, %s, %s, %s, %s)
ON CONFLICT (device_id) DO UPDATE SET site_id = EXCLUDED.site_id, device_type = EXCLUDED.device_type,
    status = EXCLUDED.status, last_seen = EXCLUDED.last_seen, attributes = EXCLUDED.attributes
WHERE devices.last_seen <= EXCLUDED.last_seen"""

DEAD_LETTER_INSERT = """INSERT INTO dead_letters (received_at, source, topic, partition, "offset", key, reason, payload,
                          context)
VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s) ON CONFLICT DO NOTHING"""


def write_heartbeats(cur: Cursor, heartbeats: list[Heartbeat]) -> None:
    if not heartbeats:
        return
    # The attributes as JSON text holds them: pydantic reads NaN and Infinity, which jsonb refuses, as numbers.
    attributes = [Jsonb(hb.model_dump(mode="json", include={"attributes"})["attributes"]) for hb in heartbeats]
    cur.executemany(HEARTBEAT_INSERT, [(hb.device_id, hb.seen_at, hb.site_id, hb.device_type, hb.status, attrs)
                                       for hb, attrs in zip(heartbeats, attributes)])
    cur.executemany(DEVICE_UPSERT, [(hb.device_id, hb.site_id, hb.device_type, hb.status, hb.seen_at, attrs)
                                    for hb, attrs in zip(heartbeats, attributes)])


OFFLINE_TYPES = ("device_offline", "camera_offline")  # a button's heartbeat watch; a camera with no frames


def mark_offline_devices(cur: Cursor, alerts: list[Alert]) -> None:
    """Devices an offline alert speaks of are offline (its ``phase: end`` says they are back: the
    heartbeats bring the online state)."""
    rows = [(alert.device_id, alert.site_id, str(alert.attributes.get("device_type", "unknown")), "offline",
             alert.observed_at, Jsonb({"last_alert": alert.id})) for alert in alerts
            if alert.type in OFFLINE_TYPES and alert.attributes.get("phase") != "end"]
    if rows:
        cur.executemany(DEVICE_UPSERT, rows)


def write_dead_letters(cur: Cursor, letters: list[tuple[DeadLetter, str, int, int]]) -> None:
    """Store dead letters with the deadletter topic's own coordinates and, in ``context``, the original
    message's topic beside its partition and offset: a re-delivery or a re-rejection lands once (unique
    indexes dead_letters_kafka_uq and dead_letters_original_uq, migration 0009; ON CONFLICT DO NOTHING
    without a target skips a row either refuses). Letters without an original offset (MQTT, API) are
    keyed by the deadletter topic's coordinates alone, as before."""
    if letters:
        cur.executemany(DEAD_LETTER_INSERT, [
            (letter.received_at, letter.source, topic, partition, offset, letter.key, letter.reason, letter.payload,
             Jsonb({**letter.context, "original_topic": letter.topic}))
            for letter, topic, partition, offset in letters])


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


# The next cursor is not simply now(): a dispatcher's transaction stamps ``updated_at = now()`` when
# it starts, so one that started before this read and commits after it would fall behind a cursor
# of now() and never be seen. The cursor is held at the start of the oldest transaction still open
# on this database (those of the same role are visible in pg_stat_activity; the ingest and API share
# one), but never more than STATUS_HOLD_BACK before now (a session left idle in a transaction must not
# make every batch re-read hours of changes). A change is read a few times over; sync_status is idempotent.
STATUS_HOLD_BACK = "5 minutes"
STATUS_CURSOR_SQL = (
    "SELECT least(now(), greatest(now() - interval '" + STATUS_HOLD_BACK + "', (SELECT min(xact_start) "
    "FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid() AND xact_start IS NOT NULL)))"
)


def incident_statuses(cur: Cursor, since: datetime | None) -> tuple[dict[str, str], datetime]:
    """Statuses of incidents changed since ``since`` (all when None), and the time to ask from next."""
    cur.execute(f"SELECT t.cursor, i.id, i.status FROM ({STATUS_CURSOR_SQL} AS cursor) AS t "
                "LEFT JOIN incidents i ON i.merged_into IS NULL AND i.updated_at >= coalesce(%s::timestamptz, '-infinity')",
                (since,))
    rows = cur.fetchall()
    return {incident_id: status for _, incident_id, status in rows if incident_id is not None}, rows[0][0]
