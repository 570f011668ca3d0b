"""Small geodesy for distances of metres to kilometres inside one city."""

from __future__ import annotations

import math
from typing import Final

# ``Final``: compiled code reads these as constants rather than looking each up in the module.
EARTH_RADIUS_M: Final = 6_371_008.8
METRES_PER_DEG_LAT: Final = math.pi * EARTH_RADIUS_M / 180.0
RADIANS_PER_DEG: Final = math.pi / 180.0  # what ``math.radians`` multiplies by (CPython: pi / 180.0)


def distance_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Distance on the local tangent plane (equirectangular): within 0.1 % of the great-circle
    distance below a few kilometres, which is all the engine ever compares, and much cheaper."""
    dy = (lat2 - lat1) * METRES_PER_DEG_LAT
    dx = (lon2 - lon1) * METRES_PER_DEG_LAT * math.cos((lat1 + lat2) / 2 * RADIANS_PER_DEG)  # math.radians inline
    return math.hypot(dx, dy)


# Cells are sized for the narrowest longitude degree GridWatch serves (75 deg N/S), so that one
# cell is never narrower than ``size_m`` anywhere below that latitude.
_MIN_COS_LAT: Final = math.cos(math.radians(75.0))


def cell_of(lat: float, lon: float, size_m: float) -> tuple[int, int]:
    """A cell at least ``size_m`` on a side: any point within ``size_m`` lies in the 3x3 block around it."""
    lat_step = size_m / METRES_PER_DEG_LAT
    return math.floor(lat / lat_step), math.floor(lon / (lat_step / _MIN_COS_LAT))
