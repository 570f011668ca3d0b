"""Recent machine alerts, for a dispatcher checking what an incident is made of."""

from __future__ import annotations

from datetime import timezone
from typing import Annotated

from fastapi import APIRouter, Query, Response

from api.deps import ConnDep, PagingDep, SettingsDep
from api.schemas import AlertPublic, Page
from api.store.alerts import AlertFilters, list_alerts
from api.store.snapshots import get_snapshot
from gridwatch.contracts import UtcTime
from gridwatch.snapshot import CONTENT_TYPE

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


@router.get(
    "/alerts/{alert_id}/snapshot",
    response_class=Response,
    responses={200: {"content": {CONTENT_TYPE: {}}, "description": "the evidence JPEG"},
               404: {"description": "no snapshot for this alert (the message says why)"}},
)
def get_alert_snapshot(alert_id: str, conn: ConnDep, settings: SettingsDep) -> Response:
    """The picture the edge took when it raised the alert: zones, boxes and the alert's text drawn on.
    It never changes once stored, so clients may cache it; it is deleted after the retention."""
    snapshot = get_snapshot(conn, alert_id, settings.ingest.snapshot_retention_days)
    headers = {"Cache-Control": "private, max-age=86400", "X-Camera-Id": snapshot.camera_id,
               "Last-Modified": snapshot.taken_at.astimezone(timezone.utc).strftime("%a, %d %b %Y %H:%M:%S GMT")}
    return Response(snapshot.jpeg, media_type=CONTENT_TYPE, headers=headers)
