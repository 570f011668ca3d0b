"""The dispatchers' incident queue and one incident in full."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from api.deps import ConnDep, EscalationDep, PagingDep
from api.schemas import IncidentPublic, IncidentSummary, Page
from api.store.incidents import IncidentFilters, get_incident, list_incidents
from gridwatch.contracts import Level, Risk, Status, UtcTime

router = APIRouter(prefix="/v1", tags=["incidents"])
NOT_FOUND: dict[int | str, dict[str, Any]] = {404: {"description": "no such incident"}}


@router.get("/incidents")
def get_incidents(
    conn: ConnDep,
    paging: PagingDep,
    escalation: EscalationDep,
    status: Annotated[list[Status], Query(description="repeat for several: ?status=open&status=assigned")] = [],  # noqa: B006 - FastAPI copies defaults
    risk: Annotated[list[Risk], Query(description="repeatable, like status")] = [],  # noqa: B006
    level: Annotated[list[Level], Query(description="where it is handled now (escalation moves it up); repeatable")] = [],  # noqa: B006
    category: str | None = None,
    grid_id: Annotated[str | None, Query(description="this grid or any grid below it")] = None,
    since: Annotated[UtcTime | None, Query(description="last seen at or after, RFC 3339 with zone")] = None,
    until: Annotated[UtcTime | None, Query(description="last seen before, RFC 3339 with zone")] = None,
    include_merged: Annotated[bool, Query(description="also list incidents merged into another")] = False,
) -> Page[IncidentSummary]:
    """Incidents newest ``last_seen`` first. Members and history are left to the detail view."""
    filters = IncidentFilters(list(status), list(risk), list(level), category, grid_id, since, until, include_merged)
    items, total = list_incidents(conn, filters, paging.limit, paging.offset, escalation)
    return Page(items=items, limit=paging.limit, offset=paging.offset, total=total)


@router.get("/incidents/{incident_id}", responses=NOT_FOUND)
def get_incident_detail(incident_id: str, conn: ConnDep, escalation: EscalationDep) -> IncidentPublic:
    """The contract Incident with members (why each observation joined), the history in order, and
    when it escalates next (``escalates_at``)."""
    return get_incident(conn, incident_id, escalation)
