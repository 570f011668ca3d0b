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
        self._geometries = geometries
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

    def assignment_of(self, grid_id: str) -> GridAssignment | None:
        """The assignment naming ``grid_id`` itself, or None when the map has no such grid."""
        path = self._paths.get(grid_id)
        return None if path is None else GridAssignment(grid_id, path)

    def distance_deg(self, grid_id: str, lat: float, lon: float) -> float:
        """Distance from a point to a grid's area (0 inside) in degrees of latitude, on the local
        equirectangular plane (longitudes shrunk by cos(lat)); times metres per degree gives metres."""
        scale = np.array([np.cos(np.radians(lat)), 1.0])
        polygon = shapely.transform(self._geometries[grid_id], lambda xy: (xy - [lon, lat]) * scale)
        return float(shapely.distance(polygon, shapely.Point(0.0, 0.0)))

    def assign_many(self, lats: np.ndarray, lons: np.ndarray) -> list[GridAssignment]:
        """Bulk lookup: one tree query for all points."""
        points = shapely.points(lons, lats)
        point_idx, geom_idx = self._tree.query(points, predicate="intersects")
        result = [OUTSIDE] * len(points)
        if len(point_idx) == 0:
            return result
        # The same choice as ``assign``: per point, the finest level, then the lowest index.
        order = np.lexsort((geom_idx, -self._ranks[geom_idx], point_idx))
        point_idx, geom_idx = point_idx[order], geom_idx[order]
        first = np.ones(len(point_idx), dtype=bool)
        first[1:] = point_idx[1:] != point_idx[:-1]
        assignments = self._assignments
        for p, g in zip(point_idx[first].tolist(), geom_idx[first].tolist()):
            result[p] = assignments[g]
        return result
