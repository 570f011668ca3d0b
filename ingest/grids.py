"""Point-in-grid lookup over a grid map, with a shapely STRtree as the spatial index."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import shapely
from shapely import STRtree

from gridwatch.gridmap import LEVEL_RANK, GridMap, map_version


@dataclass(frozen=True)
class GridAssignment:
    """The finest grid holding a point and its parents up to the district (finest first).

    ``grid_id`` is None for a point outside every grid: it is kept and flagged, never dropped.
    """

    grid_id: str | None
    path: tuple[str, ...]

    @property
    def outside(self) -> bool:
        return self.grid_id is None


OUTSIDE = GridAssignment(None, ())


class GridIndex:
    """Immutable index of one grid map; build a new one to reload a map."""

    def __init__(self, grid_map: GridMap) -> None:
        geometries = grid_map.geometries()
        self._ids = list(geometries)
        self._ranks = np.array([LEVEL_RANK[p.level] for p in (grid_map.by_id()[i] for i in self._ids)])
        self._tree = STRtree(list(geometries.values()))
        self._paths = {grid_id: tuple(grid_map.parent_chain(grid_id)) for grid_id in self._ids}
        self._assignments = [GridAssignment(grid_id, self._paths[grid_id]) for grid_id in self._ids]
        self.version = map_version(grid_map)

    def __len__(self) -> int:
        return len(self._ids)

    def assign(self, lat: float, lon: float) -> GridAssignment:
        hits = self._tree.query(shapely.Point(lon, lat), predicate="intersects")
        if len(hits) == 0:
            return OUTSIDE
        # Finest level wins; on a shared border between siblings the lower index (map order) wins.
        best = hits[np.lexsort((hits, -self._ranks[hits]))[0]]
        grid_id = self._ids[best]
        return GridAssignment(grid_id, self._paths[grid_id])

    def assign_many(self, lats: np.ndarray, lons: np.ndarray) -> list[GridAssignment]:
        """Bulk lookup: one tree query for all points."""
        points = shapely.points(lons, lats)
        point_idx, geom_idx = self._tree.query(points, predicate="intersects")
        result = [OUTSIDE] * len(points)
        # The same choice as ``assign``, for all points at once: sort each point's hits finest level
        # first, then map order, and keep the first hit of each point.
        order = np.lexsort((geom_idx, -self._ranks[geom_idx], point_idx))
        points_sorted, geoms_sorted = point_idx[order], geom_idx[order]
        first = np.ones(len(order), dtype=bool)
        first[1:] = points_sorted[1:] != points_sorted[:-1]
        for p, g in zip(points_sorted[first].tolist(), geoms_sorted[first].tolist()):
            result[p] = self._assignments[g]
        return result
