"""The evidence snapshot on the wire (topic ``gridwatch.snapshots``), shared by edge and ingest.

The edge box sits behind NAT at a compound, so the central API cannot fetch pictures from it; the
edge ships each alert's JPEG through Kafka instead, next to the alert:

- key: the alert id (so a re-sent snapshot lands on the same partition and is stored once);
- value: the JPEG bytes, at most ``MAX_SNAPSHOT_BYTES`` (Kafka's default message limit is 1 MB);
- headers: ``alert_id``, ``camera_id``, ``site_id``, ``taken_at`` (RFC 3339 UTC), ``content_type``
  (``image/jpeg``), all UTF-8.

The alert itself carries ``attributes.snapshot = "CAMERA/ALERT_ID.jpg"``; the API serves the
picture as ``GET /v1/alerts/{alert_id}/snapshot``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from gridwatch.contracts import format_time

CONTENT_TYPE = "image/jpeg"
MAX_SNAPSHOT_BYTES = 1_000_000
JPEG_START = b"\xff\xd8\xff"
REQUIRED_HEADERS = ("alert_id", "camera_id", "taken_at")


class SnapshotError(ValueError):
    """A snapshot message that cannot be stored; the message says what is wrong with it."""


@dataclass(frozen=True, eq=False)
class Snapshot:
    alert_id: str
    camera_id: str
    site_id: str
    taken_at: datetime
    jpeg: bytes

    def headers(self) -> tuple[tuple[str, bytes], ...]:
        return (
            ("alert_id", self.alert_id.encode()),
            ("camera_id", self.camera_id.encode()),
            ("site_id", self.site_id.encode()),
            ("taken_at", format_time(self.taken_at).encode()),
            ("content_type", CONTENT_TYPE.encode()),
        )

    @classmethod
    def from_message(cls, key: bytes | None, value: bytes | None,
                     headers: Iterable[tuple[str, bytes | None]]) -> "Snapshot":
        """Validate a Kafka message; raises ``SnapshotError`` naming the first problem."""
        fields = {name: (raw or b"").decode("utf-8", "replace") for name, raw in headers}
        with_nul = sorted(name for name, text in fields.items() if "\x00" in text)
        if with_nul:  # PostgreSQL's text cannot hold one: the write would fail on every retry
            raise SnapshotError(f"header(s) {', '.join(with_nul)} hold a NUL byte")
        missing = [h for h in REQUIRED_HEADERS if not fields.get(h)]
        if missing:
            raise SnapshotError(f"missing header(s) {', '.join(missing)}")
        alert_id = fields["alert_id"]
        if key is not None and key.decode("utf-8", "replace") != alert_id:
            raise SnapshotError(f"key {key!r} differs from header alert_id {alert_id!r}")
        if fields.get("content_type", CONTENT_TYPE) != CONTENT_TYPE:
            raise SnapshotError(f"content_type {fields['content_type']!r} is not {CONTENT_TYPE}")
        if not value or not value.startswith(JPEG_START):
            raise SnapshotError(f"value is not a JPEG ({len(value or b'')} bytes, starts {bytes(value or b'')[:4]!r})")
        if len(value) > MAX_SNAPSHOT_BYTES:
            raise SnapshotError(f"JPEG of {len(value)} bytes exceeds {MAX_SNAPSHOT_BYTES}")
        try:
            taken_at = datetime.fromisoformat(fields["taken_at"].replace("Z", "+00:00"))
        except ValueError as exc:
            raise SnapshotError(f"taken_at {fields['taken_at']!r} is not an RFC 3339 time") from exc
        if taken_at.tzinfo is None:
            raise SnapshotError(f"taken_at {fields['taken_at']!r} has no time zone")
        return cls(alert_id, fields["camera_id"], fields.get("site_id", ""), taken_at, bytes(value))
