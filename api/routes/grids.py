"""The grid map as stored: districts down to micro-grids."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter

from api.deps import ConnDep
from api.schemas import GridDetail, GridPublic
from api.store.grids import get_grid, list_grids

router = APIRouter(prefix="/v1", tags=["grids"])
GridLevel = Literal["district", "street", "community", "grid", "micro_grid"]


@router.get("/grids")
def get_grids(conn: ConnDep, level: GridLevel | None = None, parent_id: str | None = None) -> list[GridPublic]:
    """Flat list with parent ids (a client builds the tree); no geometry, to stay small."""
    return list_grids(conn, level, parent_id)


@router.get("/grids/{grid_id}", responses={404: {"description": "no such grid"}})
def get_grid_detail(grid_id: str, conn: ConnDep) -> GridDetail:
    """One grid with its GeoJSON outline, its children and how many incidents are open in it."""
    return get_grid(conn, grid_id)
