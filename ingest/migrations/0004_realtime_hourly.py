"""Make the continuous aggregate ``alerts_hourly_by_grid`` real-time (TimescaleDB only; a no-op elsewhere).

Since TimescaleDB 2.13 a continuous aggregate returns materialized rows only by default, so the one
0002 creates showed nothing until its first refresh and never the newest hour (the policy refreshes
up to an hour ago every 30 minutes), while the plain-PostgreSQL view shows every alert at once. With
``materialized_only = false`` the rows not yet materialized are aggregated at query time, and both
databases answer alike.
"""

from yoyo import step

from ingest.timescale import is_continuous_aggregate


def _materialized_only(value: str):
    def run(conn):
        cursor = conn.cursor()
        if is_continuous_aggregate(cursor, "alerts_hourly_by_grid"):
            cursor.execute(f"ALTER MATERIALIZED VIEW alerts_hourly_by_grid SET (timescaledb.materialized_only = {value})")

    return run


steps = [step(_materialized_only("false"), _materialized_only("true"))]
