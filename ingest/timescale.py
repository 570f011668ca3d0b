"""What the migrations ask of the database about TimescaleDB (plain PostgreSQL answers "no").

Kept outside ``ingest/migrations`` because yoyo reads every module there as a migration.
"""

from __future__ import annotations

from typing import Any


def timescale_available(cursor: Any) -> bool:
    """The extension can be created here (it is installed on the server)."""
    cursor.execute("SELECT 1 FROM pg_available_extensions WHERE name = 'timescaledb'")
    return cursor.fetchone() is not None


def is_continuous_aggregate(cursor: Any, view: str) -> bool:
    """``view`` is a TimescaleDB continuous aggregate (False without the extension)."""
    cursor.execute("SELECT 1 FROM pg_extension WHERE extname = 'timescaledb'")
    if cursor.fetchone() is None:
        return False
    cursor.execute("SELECT 1 FROM timescaledb_information.continuous_aggregates WHERE view_name = %s", (view,))
    return cursor.fetchone() is not None
