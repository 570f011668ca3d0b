"""Small builders of valid contract objects for tests (``*_factory`` style)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from itertools import count
from typing import Any

from gridwatch.contracts import Alert, PatrolReport

T0 = datetime(2026, 9, 9, 6, 0, tzinfo=timezone.utc)
SITE_LAT, SITE_LON = 37.8614259, 112.553341  # inside micro-grid YZ-S1-C2-G3-M1 of the sample map
_ids = count(1)


def alert_factory(category: str = "fire", minutes: float = 0, dlat: float = 0.0, dlon: float = 0.0, **kw: Any) -> Alert:
    data: dict[str, Any] = {
        "id": f"a-{next(_ids)}", "category": category, "type": kw.pop("type", category), "device_id": "cam-1",
        "site_id": "site-1", "lat": SITE_LAT + dlat, "lon": SITE_LON + dlon,
        "observed_at": T0 + timedelta(minutes=minutes), "confidence": 0.9,
    }
    data.update(kw)
    return Alert(**data)


def report_factory(category: str = "hazard", minutes: float = 0, dlat: float = 0.0, dlon: float = 0.0, **kw: Any) -> PatrolReport:
    data: dict[str, Any] = {
        "id": f"r-{next(_ids)}", "category": category, "worker_id": "w-017", "lat": SITE_LAT + dlat,
        "lon": SITE_LON + dlon, "reported_at": T0 + timedelta(minutes=minutes), "text": "seen on patrol",
    }
    data.update(kw)
    return PatrolReport(**data)
