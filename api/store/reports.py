"""Recent patrol reports as the ingest stored them (with grid and incident)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from psycopg import Connection
from psycopg.rows import DictRow

from api.schemas import ReportPublic
from api.store.sql import Where, observation_where


@dataclass(frozen=True)
class ReportFilters:
    worker_id: str | None = None
    category: str | None = None
    grid_id: str | None = None
    incident_id: str | None = None
    since: datetime | None = None

    def where(self) -> Where:
        return observation_where("worker_id", self.worker_id, "reported_at", self.since, self.category, self.grid_id,
                                 self.incident_id)


def list_reports(conn: Connection[DictRow], filters: ReportFilters, limit: int, offset: int) -> list[ReportPublic]:
    """Newest first; photos and GPS accuracy come from the stored message."""
    where = filters.where()
    rows = conn.execute(
        "SELECT id, category, worker_id, lat, lon, reported_at, received_at, text, "
        "coalesce(payload->'photos', '[]'::jsonb) AS photos, (payload->>'accuracy_m')::float AS accuracy_m, "
        "grid_id, grid_path, incident_id "
        f"FROM reports{where.sql()} ORDER BY reported_at DESC, id LIMIT %(limit)s OFFSET %(offset)s",
        {**where.params, "limit": limit, "offset": offset},
    ).fetchall()
    return [ReportPublic.model_validate(r) for r in rows]
