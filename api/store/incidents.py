"""Reading incidents, and the dispatchers' status changes written with history and outbox.

The ingest and the API both write ``incidents`` but never the same columns: the engine owns
members, position, times, ids and risk; the API owns ``status`` (and ``updated_at`` on its changes);
the ingest's escalation runner owns ``level``, ``escalated_at`` and the risk bump that comes with it.
``escalates_at`` is computed on read from the same limits the runner uses.
Both lock the row (the ingest's upsert does implicitly), so ``incident_history.seq = max + 1`` never
collides.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from psycopg import Connection
from psycopg.rows import DictRow
from psycopg.types.json import Jsonb

from api.lifecycle import InvalidTransition, allowed_actions, next_status
from api.schemas import IncidentPublic, IncidentSummary, IncidentTransition
from api.store.snapshots import snapshot_links
from api.store.sql import Where, grid_clause
from gridwatch.contracts import Incident
from ingest.escalation import EscalationConfig, IncidentClock, next_deadline

SUMMARY_COLUMNS = ("id, category, grid_id, grid_path, status, risk, level, lat, lon, first_seen, last_seen, "
                   "updated_at, alert_ids, report_ids, outside_grid, merged_into, escalated_at, created_at, reopened_at")
CLOCK_ONLY = ("created_at", "reopened_at")  # read for escalates_at, not shown
FULL_COLUMNS = SUMMARY_COLUMNS + ", members"


class IncidentNotFound(LookupError):
    def __init__(self, incident_id: str) -> None:
        super().__init__(f"no incident with id {incident_id!r}")


@dataclass(frozen=True)
class IncidentFilters:
    status: list[str] = field(default_factory=list)
    risk: list[str] = field(default_factory=list)
    level: list[str] = field(default_factory=list)
    category: str | None = None
    grid_id: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    include_merged: bool = False

    def where(self) -> Where:
        return (
            Where()
            .add("merged_into IS NULL", hide_merged=None if self.include_merged else True)
            .add("status = ANY(%(status)s)", status=self.status)
            .add("risk = ANY(%(risk)s)", risk=self.risk)
            .add("level = ANY(%(level)s)", level=self.level)
            .add("category = %(category)s", category=self.category)
            .add(grid_clause(), grid_id=self.grid_id)
            .add("last_seen >= %(since)s", since=self.since)
            .add("last_seen < %(until)s", until=self.until)
        )


def _shown(row: DictRow, escalation: EscalationConfig) -> dict[str, Any]:
    """The row as the API shows it: with the allowed actions and the next escalation deadline."""
    clock = IncidentClock(category=row["category"], status=row["status"], level=row["level"], risk=row["risk"],
                          raised_at=row["created_at"], escalated_at=row["escalated_at"],
                          reopened_at=row["reopened_at"], merged=row["merged_into"] is not None)
    deadline = next_deadline(clock, escalation)
    shown = {k: v for k, v in row.items() if k not in CLOCK_ONLY}
    return {**shown, "allowed_actions": allowed_actions(row["status"], row["merged_into"]),
            "escalates_at": deadline.at if deadline else None}


def _summary(row: DictRow, escalation: EscalationConfig) -> IncidentSummary:
    return IncidentSummary.model_validate(_shown(row, escalation))


def list_incidents(conn: Connection[DictRow], filters: IncidentFilters, limit: int, offset: int,
                   escalation: EscalationConfig) -> tuple[list[IncidentSummary], int]:
    """Newest ``last_seen`` first, and the number of incidents matching the filters."""
    where = filters.where()
    rows = conn.execute(
        f"SELECT {SUMMARY_COLUMNS} FROM incidents{where.sql()} ORDER BY last_seen DESC, id "
        "LIMIT %(limit)s OFFSET %(offset)s",
        {**where.params, "limit": limit, "offset": offset},
    ).fetchall()
    total = conn.execute(f"SELECT count(*) AS n FROM incidents{where.sql()}", where.params).fetchone()
    return [_summary(r, escalation) for r in rows], int(total["n"]) if total else 0


def summaries_by_id(conn: Connection[DictRow], incident_ids: Sequence[str],
                    escalation: EscalationConfig) -> list[IncidentSummary]:
    """Current state of the given incidents (for the live feed), oldest change first."""
    rows = conn.execute(
        f"SELECT {SUMMARY_COLUMNS} FROM incidents WHERE id = ANY(%s) ORDER BY updated_at, id", (list(incident_ids),)
    ).fetchall()
    return [_summary(r, escalation) for r in rows]


def _history(conn: Connection[DictRow], incident_id: str) -> list[dict[str, Any]]:
    return conn.execute(
        "SELECT seq, at, actor, action, status, reason FROM incident_history WHERE incident_id = %s ORDER BY seq",
        (incident_id,),
    ).fetchall()


def _public(row: DictRow, history: list[dict[str, Any]], escalation: EscalationConfig) -> IncidentPublic:
    return IncidentPublic.model_validate({**_shown(row, escalation), "history": history})


def get_incident(conn: Connection[DictRow], incident_id: str, escalation: EscalationConfig) -> IncidentPublic:
    row = conn.execute(f"SELECT {FULL_COLUMNS} FROM incidents WHERE id = %s", (incident_id,)).fetchone()
    if row is None:
        raise IncidentNotFound(incident_id)
    incident = _public(row, _history(conn, incident_id), escalation)
    return incident.model_copy(update={"snapshots": snapshot_links(conn, incident.alert_ids)})


def contract_payload(incident: IncidentPublic) -> dict[str, Any]:
    """The outbox/Kafka form: the contract Incident (with history), without API-only fields (the
    escalation deadline depends on the API's limits file and the reader's clock, so it stays here)."""
    fields = incident.model_dump(exclude={"allowed_actions", "updated_at", "escalates_at", "escalated_at",
                                          "snapshots"})
    return Incident.model_validate(fields).model_dump(mode="json")


def apply_transition(conn: Connection[DictRow], incident_id: str, change: IncidentTransition,
                     escalation: EscalationConfig) -> IncidentPublic:
    """Lock the incident, check the step against the state machine, then in the same transaction
    update the status, append history and queue the new state in the outbox for Kafka.

    Raises ``IncidentNotFound`` or ``InvalidTransition`` (nothing is written then).
    """
    with conn.transaction():
        row = conn.execute("SELECT status, merged_into FROM incidents WHERE id = %s FOR UPDATE",
                           (incident_id,)).fetchone()
        if row is None:
            raise IncidentNotFound(incident_id)
        if row["merged_into"] is not None:
            raise InvalidTransition(row["status"], change.action, merged_into=row["merged_into"])
        status = next_status(row["status"], change.action)
        updated = conn.execute(
            f"UPDATE incidents SET status = %s, updated_at = now() WHERE id = %s RETURNING {FULL_COLUMNS}",
            (status, incident_id),
        ).fetchone()
        conn.execute(
            """INSERT INTO incident_history (incident_id, seq, at, actor, action, status, reason)
               SELECT %(id)s, coalesce(max(seq), 0) + 1, now(), %(actor)s, %(action)s, %(status)s, %(reason)s
               FROM incident_history WHERE incident_id = %(id)s""",
            {"id": incident_id, "actor": change.actor, "action": change.action, "status": status,
             "reason": change.history_reason()},
        )
        assert updated is not None  # the row is locked by this transaction
        incident = _public(updated, _history(conn, incident_id), escalation)
        conn.execute(
            "INSERT INTO incident_outbox (incident_id, payload) VALUES (%s, %s)",
            (incident_id, Jsonb(contract_payload(incident))),
        )
    return incident
