"""TimescaleDB features where the extension is installed; plain-PostgreSQL equivalents elsewhere.

With TimescaleDB: alerts, reports and device heartbeats become hypertables with retention, and
``alerts_hourly_by_grid`` is a continuous aggregate. Without it they stay indexed tables and
``alerts_hourly_by_grid`` is an ordinary view with the same columns, so readers need not care.
0004 makes the continuous aggregate real-time. Continuous aggregates cannot be created inside a
transaction, hence ``__transactional__``. Checked against TimescaleDB 2.23 by
tests/integration/test_timescale_ddl.py.
"""

from yoyo import step

from ingest.timescale import is_continuous_aggregate, timescale_available

__transactional__ = False

RETENTION = "INTERVAL '180 days'"
HYPERTABLES = (("alerts", "observed_at"), ("reports", "reported_at"), ("device_heartbeats", "seen_at"))

HOURLY_SELECT = """
    SELECT {bucket} AS bucket, grid_id, category,
           count(*) AS alerts, max(confidence) AS max_confidence
    FROM alerts GROUP BY 1, 2, 3
"""


def apply(conn):
    cursor = conn.cursor()
    if not timescale_available(cursor):
        cursor.execute(
            "CREATE VIEW alerts_hourly_by_grid AS"
            + HOURLY_SELECT.format(bucket="date_trunc('hour', observed_at)")
        )
        return
    cursor.execute("CREATE EXTENSION IF NOT EXISTS timescaledb")
    for table, column in HYPERTABLES:
        cursor.execute(
            f"SELECT create_hypertable('{table}', '{column}', migrate_data => true, if_not_exists => true)"
        )
        cursor.execute(f"SELECT add_retention_policy('{table}', {RETENTION}, if_not_exists => true)")
    cursor.execute(
        "CREATE MATERIALIZED VIEW alerts_hourly_by_grid WITH (timescaledb.continuous) AS"
        + HOURLY_SELECT.format(bucket="time_bucket(INTERVAL '1 hour', observed_at)")
        + " WITH NO DATA"
    )
    cursor.execute(
        "SELECT add_continuous_aggregate_policy('alerts_hourly_by_grid', start_offset => INTERVAL '7 days',"
        " end_offset => INTERVAL '1 hour', schedule_interval => INTERVAL '30 minutes')"
    )


def rollback(conn):
    # DROP VIEW refuses a continuous aggregate; its refresh policy goes with it. The hypertables
    # and their retention policies stay (a hypertable cannot be turned back), and apply skips them.
    cursor = conn.cursor()
    if is_continuous_aggregate(cursor, "alerts_hourly_by_grid"):
        cursor.execute("DROP MATERIALIZED VIEW alerts_hourly_by_grid")
    else:
        cursor.execute("DROP VIEW IF EXISTS alerts_hourly_by_grid")


steps = [step(apply, rollback)]
