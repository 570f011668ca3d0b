"""The stored grid map: a flat list for pickers, and one grid with its outline, children and load."""

from __future__ import annotations

from psycopg import Connection
from psycopg.rows import DictRow

from api.lifecycle import ACTIVE_STATUSES
from api.schemas import GridDetail, GridPublic
from api.store.sql import Where


class GridNotFound(LookupError):
    def __init__(self, grid_id: str) -> None:
        super().__init__(f"no grid with id {grid_id!r} in the loaded grid map")


def grid_in_map(conn: Connection[DictRow], grid_id: str) -> bool | None:
    """Whether the loaded grid map has ``grid_id``; None when no map is loaded. Two primary-key
    probes, not a scan: a city map has tens of thousands of grids and this runs per patrol report."""
    row = conn.execute("SELECT EXISTS (SELECT 1 FROM grids WHERE id = %s) AS known, "
                       "EXISTS (SELECT 1 FROM grids) AS loaded", (grid_id,)).fetchone()
    return None if row is None or not row["loaded"] else bool(row["known"])


def list_grids(conn: Connection[DictRow], level: str | None, parent_id: str | None) -> list[GridPublic]:
    """All grids (a district has hundreds, not millions), coarsest level first."""
    where = Where().add("level = %(level)s", level=level).add("parent_id = %(parent_id)s", parent_id=parent_id)
    rows = conn.execute(
        f"SELECT id, name, level, parent_id FROM grids{where.sql()} "
        "ORDER BY array_position(ARRAY['district','street','community','grid','micro_grid'], level), id",
        where.params,
    ).fetchall()
    return [GridPublic.model_validate(r) for r in rows]


def get_grid(conn: Connection[DictRow], grid_id: str) -> GridDetail:
    row = conn.execute(
        "SELECT id, name, level, parent_id, geometry, properties, map_version FROM grids WHERE id = %s", (grid_id,)
    ).fetchone()
    if row is None:
        raise GridNotFound(grid_id)
    children = conn.execute("SELECT id FROM grids WHERE parent_id = %s ORDER BY id", (grid_id,)).fetchall()
    open_count = conn.execute(
        "SELECT count(*) AS n FROM incidents WHERE %s = ANY(grid_path) AND status = ANY(%s)",
        (grid_id, list(ACTIVE_STATUSES)),
    ).fetchone()
    return GridDetail.model_validate(
        {**row, "children": [c["id"] for c in children], "open_incidents": open_count["n"] if open_count else 0}
    )
