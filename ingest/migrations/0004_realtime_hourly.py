"""Make the continuous aggregate ``alerts_hourly_by_grid`` real-time (TimescaleDB only; a no-op elsewhere).

Since TimescaleDB 2.13 a continuous aggregate returns materialized rows only by default, so the one
0002 creates showed nothing until its first refresh and never the newest hour (the policy refreshes
up to an hour ago every 30 minutes), while the plain-PostgreSQL view shows every alert at once. With
``materialized_only = false`` the rows not yet materialized are aggregated at query time, and both
databases answer alike.
"""

from yoyo import step


def _is_continuous_aggregate(cursor) -> bool:
    cursor.execute("SELECT 1 FROM pg_extension WHERE extname = 'timescaledb'")
    if cursor.fetchone() is None:
        return False
    cursor.execute(
        "SELECT 1 FROM timescaledb_information.continuous_aggregates WHERE view_name = 'alerts_hourly_by_grid'"
    )
    return cursor.fetchone() is not None


def _materialized_only(value: str):
    def run(conn):
        cursor = conn.cursor()
        if _is_continuous_aggregate(cursor):
            cursor.execute(f"ALTER MATERIALIZED VIEW alerts_hourly_by_grid SET (timescaledb.materialized_only = {value})")

    return run


steps = [step(_materialized_only("false"), _materialized_only("true"))]
