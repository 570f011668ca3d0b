"""Alert counts per hour and grid, for the command centre's charts."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Annotated

from fastapi import APIRouter, Query

from api.deps import ConnDep
from api.schemas import HourlyStat
from api.store.stats import hourly
from gridwatch.contracts import UtcTime

router = APIRouter(prefix="/v1", tags=["stats"])


@router.get("/stats/hourly")
def get_hourly(
    conn: ConnDep,
    grid_id: Annotated[str | None, Query(description="this grid and every grid below it")] = None,
    category: str | None = None,
    since: Annotated[UtcTime | None, Query(description="default: 24 hours ago")] = None,
    until: UtcTime | None = None,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 1000,
) -> list[HourlyStat]:
    """Newest hour first, one row per (hour, grid, category)."""
    start = since or datetime.now(timezone.utc) - timedelta(hours=24)
    return hourly(conn, grid_id, category, start, until, limit)
