"""Evidence snapshots the ingest stored (table ``snapshots``, from topic ``gridwatch.snapshots``)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timezone

from psycopg import Connection
from psycopg.rows import DictRow

from api.schemas import SnapshotLink
from ingest.snapshot_retention import retention_cutoff


def snapshot_url(alert_id: str) -> str:
    return f"/v1/alerts/{alert_id}/snapshot"


class SnapshotNotFound(LookupError):
    """No picture for an alert; the message says which of the four reasons applies."""

    def __init__(self, alert_id: str, reason: str) -> None:
        super().__init__(f"no snapshot for alert {alert_id!r}: {reason}")


@dataclass(frozen=True)
class StoredSnapshot:
    alert_id: str
    camera_id: str
    taken_at: datetime
    jpeg: bytes


def get_snapshot(conn: Connection[DictRow], alert_id: str, retention_days: float) -> StoredSnapshot:
    row = conn.execute("SELECT alert_id, camera_id, taken_at, jpeg FROM snapshots WHERE alert_id = %s",
                       (alert_id,)).fetchone()
    if row is not None:
        return StoredSnapshot(row["alert_id"], row["camera_id"], row["taken_at"], bytes(row["jpeg"]))
    raise SnapshotNotFound(alert_id, _why_missing(conn, alert_id, retention_days))


def _why_missing(conn: Connection[DictRow], alert_id: str, retention_days: float) -> str:
    alert = conn.execute("SELECT payload->'attributes'->>'snapshot' AS snapshot, observed_at FROM alerts "
                         "WHERE id = %s LIMIT 1", (alert_id,)).fetchone()
    if alert is None:
        return "no such alert has been received"
    if not alert["snapshot"]:
        return "the alert was sent without one"
    cutoff = retention_cutoff(datetime.now(timezone.utc), retention_days)
    if cutoff is not None and alert["observed_at"] < cutoff:
        return f"it was deleted after the {retention_days:g}-day retention (ingest.snapshot_retention_days)"
    return "the alert has one, but it has not reached the server yet (it follows the alert through Kafka)"


def snapshot_links(conn: Connection[DictRow], alert_ids: Sequence[str]) -> list[SnapshotLink]:
    """The stored snapshots of ``alert_ids``, oldest first, with the URL that serves each."""
    if not alert_ids:
        return []
    rows = conn.execute("SELECT alert_id, camera_id, taken_at FROM snapshots WHERE alert_id = ANY(%s) "
                        "ORDER BY taken_at, alert_id", (list(alert_ids),)).fetchall()
    return [SnapshotLink(url=snapshot_url(r["alert_id"]), **r) for r in rows]
