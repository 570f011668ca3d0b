"""The escalation runner in the ingest service: every few seconds of wall-clock time, find the
incidents whose limits have passed (one query, on ``incidents_escalation_idx``), move each one level
up in one transaction, with a history entry by ``system:escalation`` and an outbox row, so
``gridwatch.incidents`` and the console's live feed see the change like any other.

The rules are ``ingest/escalation.py``'s; the query only pre-selects what they will escalate, and
each row is decided again by them. It runs on a database connection of its own, with the
database's clock (which also stamps ``created_at`` and ``reopened_at``), and locks what it changes
with ``SKIP LOCKED``: an incident a dispatcher is changing right now is left for the next round.
A round escalates at most ``batch_max`` incidents, longest waiting first, so its transaction (and
the row locks dispatchers may wait on) stays short; after a full round the next one follows at once,
so a backlog (the ingest back from an outage) drains in a row of short transactions.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg
from prometheus_client import CollectorRegistry, Counter
from psycopg import Cursor
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb

from gridwatch.contracts import HistoryEntry, Incident
from ingest.escalation import ACTOR, Escalation, EscalationConfig, IncidentClock, escalate

log = logging.getLogger(__name__)

BATCH_MAX = 500  # about half a second of work on this 2-core machine
CONNECT_TIMEOUT_S = 5  # a database that does not answer costs a round, not the ingest's loop
CLOCK_START = "greatest(i.created_at, i.escalated_at, i.reopened_at)"

# Limits come in as rows (category "" = default); the WHERE repeats the index's predicate so the
# planner uses it, and bounds the clock start by the shortest limit.
DUE_SQL = f"""
WITH lim AS (SELECT * FROM unnest(%(category)s::text[], %(risk)s::text[], %(ack_s)s::float8[], %(handle_s)s::float8[])
             AS l(category, risk, ack_s, handle_s))
SELECT i.id, i.category, i.status, i.level, i.risk, i.created_at, i.escalated_at, i.reopened_at
  FROM incidents i
  JOIN lim d ON d.category = '' AND d.risk = i.risk
  LEFT JOIN lim c ON c.category = i.category AND c.risk = i.risk
 WHERE i.status IN ('open', 'assigned', 'in_progress') AND i.level <> 'district' AND i.merged_into IS NULL
   AND {CLOCK_START} <= %(started_before)s
   AND {CLOCK_START} + make_interval(secs => CASE WHEN i.status = 'open' THEN coalesce(c.ack_s, d.ack_s)
                                                 ELSE coalesce(c.handle_s, d.handle_s) END) <= %(now)s
 ORDER BY {CLOCK_START}, i.id
 LIMIT %(batch_max)s
 FOR UPDATE OF i SKIP LOCKED
"""

UPDATE_SQL = """
UPDATE incidents SET level = u.level, risk = u.risk, escalated_at = %(now)s, updated_at = now()
  FROM unnest(%(id)s::text[], %(level)s::text[], %(risk)s::text[]) AS u(id, level, risk)
 WHERE incidents.id = u.id
"""

HISTORY_SQL = """
INSERT INTO incident_history (incident_id, seq, at, actor, action, status, reason)
SELECT u.id, coalesce((SELECT max(seq) FROM incident_history h WHERE h.incident_id = u.id), 0) + 1,
       %(now)s, %(actor)s, 'escalate', u.status, u.reason
  FROM unnest(%(id)s::text[], %(status)s::text[], %(reason)s::text[]) AS u(id, status, reason)
"""

INCIDENT_COLUMNS = ("id, category, grid_id, grid_path, status, risk, level, lat, lon, first_seen, last_seen, "
                    "alert_ids, report_ids, members, outside_grid, merged_into")


@dataclass(frozen=True)
class Escalated:
    incident_id: str
    category: str
    status: str
    step: Escalation


@dataclass
class EscalationMetrics:
    escalations: Counter
    failures: Counter

    @classmethod
    def create(cls, registry: CollectorRegistry) -> "EscalationMetrics":
        return cls(
            escalations=Counter("gridwatch_ingest_escalations", "incidents escalated, by the level reached",
                                ["level", "category"], registry=registry),
            failures=Counter("gridwatch_ingest_escalation_failures", "escalation rounds that failed (retried)",
                             registry=registry),
        )


def _limit_rows(config: EscalationConfig) -> dict[str, list[Any]]:
    rows = config.table()
    return {"category": [c for c, _, _ in rows], "risk": [r for _, r, _ in rows],
            "ack_s": [limit.acknowledge_min * 60 for _, _, limit in rows],
            "handle_s": [limit.handle_min * 60 for _, _, limit in rows]}


def _clock(row: dict[str, Any]) -> IncidentClock:
    return IncidentClock(category=row["category"], status=row["status"], level=row["level"], risk=row["risk"],
                         raised_at=row["created_at"], escalated_at=row["escalated_at"], reopened_at=row["reopened_at"])


def due_escalations(cur: Cursor[dict[str, Any]], config: EscalationConfig, now: datetime,
                    batch_max: int = BATCH_MAX) -> list[Escalated]:
    """Lock up to ``batch_max`` incidents due at ``now``, longest waiting first, and say how each escalates."""
    cur.execute(DUE_SQL, {**_limit_rows(config), "now": now, "started_before": now - config.shortest,
                          "batch_max": batch_max})
    due = []
    for row in cur.fetchall():
        step = escalate(_clock(row), config, now)
        if step is None:  # the query and the rules disagree: trust the rules, and say so
            log.warning("escalation query selected an incident the rules do not escalate", extra={"incident_id": row["id"]})
            continue
        due.append(Escalated(row["id"], row["category"], row["status"], step))
    return due


def _contract_incidents(cur: Cursor[dict[str, Any]], incident_ids: list[str]) -> list[Incident]:
    """The escalated incidents as the contract has them, with their whole history, for the outbox."""
    cur.execute("SELECT incident_id, at, actor, action, status, reason FROM incident_history "
                "WHERE incident_id = ANY(%s) ORDER BY incident_id, seq", (incident_ids,))
    history: dict[str, list[HistoryEntry]] = {}
    for row in cur.fetchall():
        history.setdefault(row.pop("incident_id"), []).append(HistoryEntry.model_validate(row))
    cur.execute(f"SELECT {INCIDENT_COLUMNS} FROM incidents WHERE id = ANY(%s) ORDER BY id", (incident_ids,))
    return [Incident.model_validate({**row, "history": history.get(row["id"], [])}) for row in cur.fetchall()]


def apply_escalations(cur: Cursor[dict[str, Any]], due: list[Escalated], now: datetime) -> None:
    """Level, risk and clock; a history entry each; the new state of each in the outbox."""
    if not due:
        return
    ids = [e.incident_id for e in due]
    cur.execute(UPDATE_SQL, {"now": now, "id": ids, "level": [e.step.to_level for e in due],
                             "risk": [e.step.to_risk for e in due]})
    cur.execute(HISTORY_SQL, {"now": now, "actor": ACTOR, "id": ids, "status": [e.status for e in due],
                              "reason": [e.step.history_reason for e in due]})
    cur.executemany("INSERT INTO incident_outbox (incident_id, payload) VALUES (%s, %s)",
                    [(i.id, Jsonb(i.model_dump(mode="json"))) for i in _contract_incidents(cur, ids)])


def run_escalations(conn: psycopg.Connection[dict[str, Any]], config: EscalationConfig,
                    now: datetime | None = None, batch_max: int = BATCH_MAX) -> list[Escalated]:
    """One round in one transaction; ``now`` defaults to the database's clock."""
    with conn.transaction(), conn.cursor() as cur:
        if now is None:
            cur.execute("SELECT now() AS now")
            now = cur.fetchone()["now"]  # type: ignore[index]
        due = due_escalations(cur, config, now, batch_max)
        apply_escalations(cur, due, now)
    return due


class EscalationRunner:
    """Runs ``run_escalations`` every ``every_s`` (monotonic) on a connection it (re)opens itself.
    A failed round is logged, counted and retried at the next period; the ingest goes on."""

    def __init__(self, database_url: str, config: EscalationConfig, metrics: EscalationMetrics, every_s: float,
                 batch_max: int = BATCH_MAX, monotonic: Callable[[], float] = time.monotonic) -> None:
        self.database_url = database_url
        self.config = config
        self.metrics = metrics
        self.every_s = every_s
        self.batch_max = batch_max
        self._monotonic = monotonic
        self._next_run = 0.0
        self._conn: psycopg.Connection[dict[str, Any]] | None = None

    def maybe_run(self) -> list[Escalated]:
        """Run a round if one is due (or the last one was full); never raises."""
        now = self._monotonic()
        if now < self._next_run:
            return []
        self._next_run = now + self.every_s
        try:
            done = self.run()
            if len(done) >= self.batch_max:
                self._next_run = now  # more are waiting: go on at the next pass of the loop
            return done
        except Exception:  # noqa: BLE001 - a database outage must not stop the ingest
            log.exception("escalation round failed; retrying in %.0f s", self.every_s)
            self.metrics.failures.inc()
            self.close()
            return []

    def run(self, now: datetime | None = None) -> list[Escalated]:
        if self._conn is None or self._conn.closed:
            self._conn = psycopg.connect(self.database_url, row_factory=dict_row, connect_timeout=CONNECT_TIMEOUT_S)
        done = run_escalations(self._conn, self.config, now, self.batch_max)
        for e in done:
            self.metrics.escalations.labels(level=e.step.to_level, category=e.category).inc()
            log.info("incident escalated", extra={"incident_id": e.incident_id, "category": e.category,
                                                  "level": e.step.to_level, "risk": e.step.to_risk,
                                                  "reason": e.step.reason})
        return done

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None
