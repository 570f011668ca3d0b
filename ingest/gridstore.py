"""Grid maps in the database: ``gridwatch grids load`` writes one, the ingest and API read it."""

from __future__ import annotations

from pathlib import Path

import psycopg
from psycopg.types.json import Jsonb

from gridwatch.gridmap import GridMap, map_version, parse_grid_map


def store_grid_map(database_url: str, grid_map: GridMap, source: str) -> str:
    """Replace the stored grid map with ``grid_map`` in one transaction; return its version."""
    version = map_version(grid_map)
    with psycopg.connect(database_url) as conn, conn.transaction(), conn.cursor() as cur:
        cur.execute("LOCK TABLE grids IN EXCLUSIVE MODE")
        cur.execute("DELETE FROM grids")
        with cur.copy("COPY grids (id, name, level, parent_id, geometry, properties, map_version, ord) FROM STDIN") as copy:
            for ord_, feature in enumerate(grid_map.features):
                p = feature.properties
                extra = {k: v for k, v in p.model_dump().items() if k not in ("id", "name", "level", "parent_id")}
                copy.write_row((p.id, p.name, p.level, p.parent_id, Jsonb(feature.geometry), Jsonb({**extra, "source": source}), version, ord_))
    return version


def stored_map_version(conn: psycopg.Connection) -> str | None:
    row = conn.execute("SELECT map_version FROM grids LIMIT 1").fetchone()
    return None if row is None else row[0]


def read_grid_map(conn: psycopg.Connection) -> GridMap | None:
    """The stored grid map, or None when no map was loaded yet."""
    rows = conn.execute(
        "SELECT id, name, level, parent_id, geometry, properties FROM grids ORDER BY ord"
    ).fetchall()
    if not rows:
        return None
    features = [
        {"type": "Feature", "geometry": geometry,
         "properties": {**{k: v for k, v in props.items() if k != "source"},
                        "id": grid_id, "name": name, "level": level, "parent_id": parent_id}}
        for grid_id, name, level, parent_id, geometry, props in rows
    ]
    return parse_grid_map({"type": "FeatureCollection", "features": features}, Path("database:grids"))
