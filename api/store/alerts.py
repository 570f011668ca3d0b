"""Recent alerts with the grid and incident the ingest gave them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from psycopg import Connection
from psycopg.rows import DictRow

from api.schemas import AlertPublic
from api.store.snapshots import snapshot_url
from api.store.sql import Where, observation_where


@dataclass(frozen=True)
class AlertFilters:
    device_id: str | None = None
    category: str | None = None
    grid_id: str | None = None
    incident_id: str | None = None
    since: datetime | None = None

    def where(self) -> Where:
        return observation_where("device_id", self.device_id, "observed_at", self.since, self.category, self.grid_id,
                                 self.incident_id)


def list_alerts(conn: Connection[DictRow], filters: AlertFilters, limit: int, offset: int) -> list[AlertPublic]:
    """Newest first. No total: counting a months-long hypertable per page view is not worth it."""
    where = filters.where()
    rows = conn.execute(
        "SELECT id, category, type, device_id, site_id, lat, lon, confidence, observed_at, received_at, "
        "coalesce(payload->'attributes', '{}'::jsonb) AS attributes, grid_id, grid_path, incident_id, "
        "EXISTS (SELECT 1 FROM snapshots s WHERE s.alert_id = alerts.id) AS has_snapshot "
        f"FROM alerts{where.sql()} ORDER BY observed_at DESC, id LIMIT %(limit)s OFFSET %(offset)s",
        {**where.params, "limit": limit, "offset": offset},
    ).fetchall()
    return [_public(r) for r in rows]


def _public(row: DictRow) -> AlertPublic:
    """Linked when the picture is stored, or announced in the attributes (the URL then says why it is
    not there yet)."""
    linked = row.pop("has_snapshot") or bool(row["attributes"].get("snapshot"))
    return AlertPublic.model_validate({**row, "snapshot_url": snapshot_url(row["id"]) if linked else None})
