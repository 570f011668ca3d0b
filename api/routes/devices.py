"""Cameras, buttons and edge boxes: which are up, which went quiet."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from api.deps import ConnDep, PagingDep
from api.schemas import DevicePublic, Page
from api.store.devices import get_device, list_devices

router = APIRouter(prefix="/v1", tags=["devices"])


@router.get("/devices")
def get_devices(conn: ConnDep, paging: PagingDep, status: str | None = None,
                site_id: str | None = None) -> Page[DevicePublic]:
    """Offline devices first, then the longest silent."""
    items, total = list_devices(conn, status, site_id, paging.limit, paging.offset)
    return Page(items=items, limit=paging.limit, offset=paging.offset, total=total)


@router.get("/devices/{device_id}", responses={404: {"description": "no such device"}})
def get_device_detail(
    device_id: str,
    conn: ConnDep,
    heartbeats: Annotated[int, Query(ge=0, le=500, description="how many recent heartbeats to include")] = 20,
) -> DevicePublic:
    return get_device(conn, device_id, heartbeats)
