from pathlib import Path

import pytest

from gridwatch.gridmap import load_grid_map
from ingest.grids import GridIndex

REPO = Path(__file__).resolve().parents[2]
SAMPLE_GRIDS = REPO / "configs" / "grids" / "sample-district.geojson"


@pytest.fixture(scope="session")
def sample_grid_index() -> GridIndex:
    return GridIndex(load_grid_map(SAMPLE_GRIDS))
