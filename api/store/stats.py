"""Hourly alert counts per grid from ``alerts_hourly_by_grid`` (a continuous aggregate under
TimescaleDB, a plain view elsewhere: same columns either way)."""

from __future__ import annotations

from datetime import datetime

from psycopg import Connection
from psycopg.rows import DictRow

from api.schemas import HourlyStat
from api.store.sql import Where

# The view knows only each alert's finest grid; a community's figure is the sum over its subtree.
SUBTREE = """WITH RECURSIVE subtree AS (
    SELECT id FROM grids WHERE id = %(grid_id)s
    UNION ALL SELECT g.id FROM grids g JOIN subtree s ON g.parent_id = s.id
)"""


def hourly(conn: Connection[DictRow], grid_id: str | None, category: str | None, since: datetime,
           until: datetime | None, limit: int) -> list[HourlyStat]:
    """Newest hour first; with ``grid_id``, that grid and every grid below it."""
    where = (
        Where()
        .add("bucket >= %(since)s", since=since)
        .add("bucket < %(until)s", until=until)
        .add("category = %(category)s", category=category)
        .add("(grid_id = %(grid_id)s OR grid_id IN (SELECT id FROM subtree))", grid_id=grid_id)
    )
    prefix = SUBTREE if grid_id else ""
    rows = conn.execute(
        f"{prefix} SELECT bucket, grid_id, category, alerts, max_confidence FROM alerts_hourly_by_grid{where.sql()} "
        "ORDER BY bucket DESC, grid_id, category LIMIT %(limit)s",
        {**where.params, "limit": limit},
    ).fetchall()
    return [HourlyStat.model_validate(r) for r in rows]
