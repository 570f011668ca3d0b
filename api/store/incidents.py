"""Reading incidents, and the dispatchers' status changes written with history and outbox.

The ingest and the API both write ``incidents`` but never the same columns: the engine owns
members, position, times, ids and risk; the API owns ``status`` (and ``updated_at`` on its changes).
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

from api.lifecycle import allowed_actions, next_status
from api.schemas import IncidentPublic, IncidentSummary, IncidentTransition
from api.store.snapshots import snapshot_links
from api.store.sql import Where, grid_clause
from gridwatch.contracts import Incident

SUMMARY_COLUMNS = ("id, category, grid_id, grid_path, status, risk, level, lat, lon, first_seen, last_seen, "
                   "updated_at, alert_ids, report_ids, outside_grid, merged_into")
FULL_COLUMNS = SUMMARY_COLUMNS + ", members"


class IncidentNotFound(LookupError):
    def __init__(self, incident_id: str) -> None:
        super().__init__(f"no incident with id {incident_id!r}")


@dataclass(frozen=True)
class IncidentFilters:
    status: list[str] = field(default_factory=list)
    risk: list[str] = field(default_factory=list)
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
            .add("category = %(category)s", category=self.category)
            .add(grid_clause(), grid_id=self.grid_id)
            .add("last_seen >= %(since)s", since=self.since)
            .add("last_seen < %(until)s", until=self.until)
        )


def _summary(row: DictRow) -> IncidentSummary:
    return IncidentSummary.model_validate({**row, "allowed_actions": allowed_actions(row["status"])})


def list_incidents(conn: Connection[DictRow], filters: IncidentFilters, limit: int,
                   offset: int) -> tuple[list[IncidentSummary], int]:
    """Newest ``last_seen`` first, and the number of incidents matching the filters."""
    where = filters.where()
    rows = conn.execute(
        f"SELECT {SUMMARY_COLUMNS} FROM incidents{where.sql()} ORDER BY last_seen DESC, id "
        "LIMIT %(limit)s OFFSET %(offset)s",
        {**where.params, "limit": limit, "offset": offset},
    ).fetchall()
    total = conn.execute(f"SELECT count(*) AS n FROM incidents{where.sql()}", where.params).fetchone()
    return [_summary(r) for r in rows], int(total["n"]) if total else 0


def summaries_by_id(conn: Connection[DictRow], incident_ids: Sequence[str]) -> list[IncidentSummary]:
    """Current state of the given incidents (for the live feed), oldest change first."""
    rows = conn.execute(
        f"SELECT {SUMMARY_COLUMNS} FROM incidents WHERE id = ANY(%s) ORDER BY updated_at, id", (list(incident_ids),)
    ).fetchall()
    return [_summary(r) for r in rows]


def _history(conn: Connection[DictRow], incident_id: str) -> list[dict[str, Any]]:
    return conn.execute(
        "SELECT seq, at, actor, action, status, reason FROM incident_history WHERE incident_id = %s ORDER BY seq",
        (incident_id,),
    ).fetchall()


def _public(row: DictRow, history: list[dict[str, Any]]) -> IncidentPublic:
    return IncidentPublic.model_validate(
        {**row, "history": history, "allowed_actions": allowed_actions(row["status"])}
    )


def get_incident(conn: Connection[DictRow], incident_id: str) -> IncidentPublic:
    row = conn.execute(f"SELECT {FULL_COLUMNS} FROM incidents WHERE id = %s", (incident_id,)).fetchone()
    if row is None:
        raise IncidentNotFound(incident_id)
    incident = _public(row, _history(conn, incident_id))
    return incident.model_copy(update={"snapshots": snapshot_links(conn, incident.alert_ids)})


def contract_payload(incident: IncidentPublic) -> dict[str, Any]:
    """The outbox/Kafka form: the contract Incident (with history), without API-only fields."""
    fields = incident.model_dump(exclude={"allowed_actions", "updated_at", "snapshots"})
    return Incident.model_validate(fields).model_dump(mode="json")


def apply_transition(conn: Connection[DictRow], incident_id: str, change: IncidentTransition) -> IncidentPublic:
    """Lock the incident, check the step against the state machine, then in the same transaction
    update the status, append history and queue the new state in the outbox for Kafka.

    Raises ``IncidentNotFound`` or ``InvalidTransition`` (nothing is written then).
    """
    with conn.transaction():
        row = conn.execute("SELECT status FROM incidents WHERE id = %s FOR UPDATE", (incident_id,)).fetchone()
        if row is None:
            raise IncidentNotFound(incident_id)
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
        incident = _public(updated, _history(conn, incident_id))
        conn.execute(
            "INSERT INTO incident_outbox (incident_id, payload) VALUES (%s, %s)",
            (incident_id, Jsonb(contract_payload(incident))),
        )
    return incident
