"""Recent machine alerts, for a dispatcher checking what an incident is made of."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from api.deps import ConnDep, PagingDep
from api.schemas import AlertPublic, Page
from api.store.alerts import AlertFilters, list_alerts
from gridwatch.contracts import UtcTime

router = APIRouter(prefix="/v1", tags=["alerts"])


@router.get("/alerts")
def get_alerts(
    conn: ConnDep,
    paging: PagingDep,
    device_id: str | None = None,
    category: str | None = None,
    grid_id: Annotated[str | None, Query(description="this grid or any grid below it")] = None,
    incident_id: str | None = None,
    since: Annotated[UtcTime | None, Query(description="observed at or after, RFC 3339 with zone")] = None,
) -> Page[AlertPublic]:
    """Alerts newest first, each with the grid the ingest placed it in and the incident it joined."""
    filters = AlertFilters(device_id, category, grid_id, incident_id, since)
    return Page(items=list_alerts(conn, filters, paging.limit, paging.offset), limit=paging.limit,
                offset=paging.offset)
