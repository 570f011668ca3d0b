"""Devices' latest state (kept by the ingest from heartbeats) and their recent heartbeats."""

from __future__ import annotations

from psycopg import Connection
from psycopg.rows import DictRow

from api.schemas import DevicePublic, HeartbeatPublic
from api.store.sql import Where

DEVICE_COLUMNS = ("device_id, site_id, device_type, status, last_seen, attributes, "
                  "extract(epoch FROM now() - last_seen)::float AS silent_s")


class DeviceNotFound(LookupError):
    def __init__(self, device_id: str) -> None:
        super().__init__(f"no device with id {device_id!r}")


def list_devices(conn: Connection[DictRow], status: str | None, site_id: str | None, limit: int,
                 offset: int) -> tuple[list[DevicePublic], int]:
    """Offline devices first, then the longest silent: the ones a dispatcher should look at."""
    where = Where().add("status = %(status)s", status=status).add("site_id = %(site_id)s", site_id=site_id)
    rows = conn.execute(
        f"SELECT {DEVICE_COLUMNS} FROM devices{where.sql()} "
        "ORDER BY (status = 'offline') DESC, last_seen, device_id LIMIT %(limit)s OFFSET %(offset)s",
        {**where.params, "limit": limit, "offset": offset},
    ).fetchall()
    total = conn.execute(f"SELECT count(*) AS n FROM devices{where.sql()}", where.params).fetchone()
    return [DevicePublic.model_validate(r) for r in rows], int(total["n"]) if total else 0


def get_device(conn: Connection[DictRow], device_id: str, heartbeats: int) -> DevicePublic:
    row = conn.execute(f"SELECT {DEVICE_COLUMNS} FROM devices WHERE device_id = %s", (device_id,)).fetchone()
    if row is None:
        raise DeviceNotFound(device_id)
    beats = conn.execute(
        "SELECT seen_at, status, attributes FROM device_heartbeats WHERE device_id = %s ORDER BY seen_at DESC LIMIT %s",
        (device_id, heartbeats),
    ).fetchall()
    return DevicePublic.model_validate({**row, "heartbeats": [HeartbeatPublic.model_validate(b) for b in beats]})
