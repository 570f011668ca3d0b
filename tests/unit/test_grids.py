import json
from pathlib import Path

import numpy as np
import pytest

from gridwatch.configfile import ConfigError
from gridwatch.gridmap import load_grid_map, parse_grid_map
from ingest.grids import GridIndex

from .conftest import SAMPLE_GRIDS


def test_sample_map_has_all_five_levels() -> None:
    levels = {f.properties.level for f in load_grid_map(SAMPLE_GRIDS).features}
    assert levels == {"district", "street", "community", "grid", "micro_grid"}


@pytest.mark.parametrize(
    ("lat", "lon", "expected"),
    [
        (37.8614259, 112.553341, "YZ-S1-C2-G3-M1"),
        (37.8510, 112.5410, "YZ-S1-C1-G1-M1"),
        (37.8690, 112.5690, "YZ-S2-C2-G3-M2"),
    ],
)
def test_finest_grid_and_parent_chain(sample_grid_index: GridIndex, lat: float, lon: float, expected: str) -> None:
    got = sample_grid_index.assign(lat, lon)
    assert got.grid_id == expected
    assert got.path[0] == expected and got.path[-1] == "YZ" and len(got.path) == 5
    assert all(got.path[i].startswith(got.path[i + 1]) for i in range(4))


def test_outside_every_grid_is_flagged_not_dropped(sample_grid_index: GridIndex) -> None:
    got = sample_grid_index.assign(10.0, 10.0)
    assert got.outside and got.grid_id is None and got.path == ()


def test_bulk_lookup_equals_single_lookups(sample_grid_index: GridIndex) -> None:
    rng = np.random.default_rng(7)
    lats = rng.uniform(37.845, 37.875, 500)
    lons = rng.uniform(112.535, 112.575, 500)
    assert sample_grid_index.assign_many(lats, lons) == [sample_grid_index.assign(a, o) for a, o in zip(lats, lons)]


def _map(*features: dict) -> dict:
    return {"type": "FeatureCollection", "features": list(features)}


def _feature(id_: str, level: str, parent: str | None, x0: float = 0, size: float = 1) -> dict:
    ring = [[x0, 0], [x0 + size, 0], [x0 + size, size], [x0, size], [x0, 0]]
    return {"type": "Feature", "properties": {"id": id_, "level": level, "parent_id": parent},
            "geometry": {"type": "Polygon", "coordinates": [ring]}}


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (_map(_feature("a", "district", None), _feature("a", "street", None)), "is used twice"),
        (_map(_feature("g", "grid", "missing")), "is not the id of any feature"),
        (_map(_feature("d", "grid", None), _feature("s", "district", "d")), "cannot sit under"),
        (_map({"type": "Feature", "properties": {"id": "x", "level": "grid"},
               "geometry": {"type": "Point", "coordinates": [0, 0]}}), "Polygon or MultiPolygon"),
        (_map(_feature("x", "block", None)), "level"),
        ({"type": "FeatureCollection", "features": []}, "at least 1"),
    ],
)
def test_bad_grid_maps_are_rejected_with_the_feature_named(data: dict, message: str) -> None:
    with pytest.raises(ConfigError) as err:
        parse_grid_map(data, Path("map.geojson"))
    assert any(message in p for p in err.value.problems), err.value.problems


def test_reloaded_map_changes_assignment(tmp_path: Path) -> None:
    first = parse_grid_map(_map(_feature("d", "district", None, 0, 2), _feature("g1", "grid", "d", 0, 1)), tmp_path)
    second = parse_grid_map(_map(_feature("d", "district", None, 0, 2), _feature("g2", "grid", "d", 0, 1)), tmp_path)
    old, new = GridIndex(first), GridIndex(second)
    assert old.assign(0.5, 0.5).grid_id == "g1"
    assert new.assign(0.5, 0.5).grid_id == "g2"
    assert old.version != new.version


def test_unreadable_file(tmp_path: Path) -> None:
    path = tmp_path / "m.geojson"
    path.write_text("{not json")
    with pytest.raises(ConfigError, match=r"m.geojson:1: not valid JSON"):
        load_grid_map(path)
    path.write_text(json.dumps(_map(_feature("d", "district", None))))
    assert len(load_grid_map(path).features) == 1
