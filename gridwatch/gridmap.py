"""The grid map contract: a GeoJSON FeatureCollection of district, street, community, grid and
micro-grid polygons, each with ``id``, ``name``, ``level`` and ``parent_id`` (CONTRACTS.md)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from shapely.geometry import shape
from shapely.geometry.base import BaseGeometry

from gridwatch.configfile import ConfigError, format_loc

GridLevel = Literal["district", "street", "community", "grid", "micro_grid"]
LEVEL_RANK: dict[str, int] = {"district": 0, "street": 1, "community": 2, "grid": 3, "micro_grid": 4}


class GridProperties(BaseModel):
    model_config = ConfigDict(extra="allow")

    id: str = Field(min_length=1, max_length=128)
    name: str = ""
    level: GridLevel
    parent_id: str | None = None


class GridFeature(BaseModel):
    model_config = ConfigDict(extra="allow", arbitrary_types_allowed=True)

    type: Literal["Feature"]
    properties: GridProperties
    geometry: dict[str, Any]

    @field_validator("geometry")
    @classmethod
    def _polygonal(cls, value: dict[str, Any]) -> dict[str, Any]:
        if value.get("type") not in ("Polygon", "MultiPolygon"):
            raise ValueError(f"geometry must be a Polygon or MultiPolygon, got {value.get('type')!r}")
        geom = shape(value)
        if geom.is_empty or not geom.is_valid:
            raise ValueError("geometry is empty or self-intersecting; fix the ring order or the outline")
        return value


class GridMap(BaseModel):
    """A validated grid map; ``features`` keep the source order."""

    model_config = ConfigDict(extra="allow")

    type: Literal["FeatureCollection"]
    features: list[GridFeature] = Field(min_length=1)

    def by_id(self) -> dict[str, GridProperties]:
        return {f.properties.id: f.properties for f in self.features}

    def geometries(self) -> dict[str, BaseGeometry]:
        return {f.properties.id: shape(f.geometry) for f in self.features}

    def parent_chain(self, grid_id: str) -> list[str]:
        """``grid_id`` and its ancestors up to the district, finest first."""
        props = self.by_id()
        chain: list[str] = []
        current: str | None = grid_id
        while current is not None and current not in chain:
            chain.append(current)
            current = props[current].parent_id if current in props else None
        return chain


def map_version(grid_map: GridMap) -> str:
    """A short fingerprint of a map's content: equal maps have equal versions."""
    return hashlib.sha256(grid_map.model_dump_json().encode()).hexdigest()[:16]


def _check_tree(grid_map: GridMap) -> list[str]:
    problems: list[str] = []
    props = grid_map.by_id()
    seen: set[str] = set()
    for i, feature in enumerate(grid_map.features):
        p = feature.properties
        where = f"features[{i}] ({p.id})"
        if p.id in seen:
            problems.append(f"{where}: id {p.id!r} is used twice; give each grid its own id")
        seen.add(p.id)
        if p.parent_id is None:
            continue
        parent = props.get(p.parent_id)
        if parent is None:
            problems.append(f"{where}: parent_id {p.parent_id!r} is not the id of any feature")
        elif LEVEL_RANK[parent.level] >= LEVEL_RANK[p.level]:
            problems.append(f"{where}: a {p.level} cannot sit under the {parent.level} {parent.id!r}")
    return problems


def parse_grid_map(data: Any, source: Path) -> GridMap:
    try:
        grid_map = GridMap.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(
            source, [f"{source}: {format_loc(tuple(e['loc']))}: {e['msg']}" for e in exc.errors()]
        ) from exc
    problems = _check_tree(grid_map)
    if problems:
        raise ConfigError(source, [f"{source}: {p}" for p in problems])
    return grid_map


def load_grid_map(path: Path) -> GridMap:
    """Read and validate a GeoJSON grid map; raise ``ConfigError`` naming the feature at fault."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(path, [f"{path}: cannot read the file: {exc.strerror}"]) from exc
    except json.JSONDecodeError as exc:
        raise ConfigError(path, [f"{path}:{exc.lineno}: not valid JSON: {exc.msg}"]) from exc
    return parse_grid_map(data, path)
