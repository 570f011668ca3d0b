"""Migration 0002's TimescaleDB branch on a real TimescaleDB: PGlite (PostgreSQL 17 + TimescaleDB 2.23,
compiled to WASM) served over TCP by pglite-socket (tests/integration/pglite/server.mjs).

No native TimescaleDB build is installable here, so this is the only place the hypertables, retention
policies and the continuous aggregate are created for real. It is a DDL smoke test, nothing more:
PGlite serves one connection at a time, runs no background jobs (policies run by ``CALL run_job``)
and crashes on COPY FROM STDIN and executemany, so rows go in one plain INSERT at a time.

yoyo opens a second connection per migration (``backend.copy()``), which PGlite cannot serve, so the
migrations run through yoyo's own reading, ordering, transaction and bookkeeping code with ``copy()``
sharing the one connection; everything else is what ``ingest.migrate.migrate`` does.

The npm packages (pinned in pglite/package.json, ~45 MB) are installed outside the repository (tests/npm_cache.py), into
``${GRIDWATCH_CACHE:-~/.cache/gridwatch}/pglite-timescale``. The tests skip when node or npm is
missing or the install fails.
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from importlib.resources import files
from pathlib import Path

import psycopg
import pytest
from yoyo import read_migrations
from yoyo.backends.core.postgresql import PostgresqlPsycopgBackend
from yoyo.connections import parse_uri

from gridwatch.servers.ports import free_port
from tests.npm_cache import npm_folder

HERE = Path(__file__).parent / "pglite"
MIGRATIONS = Path(str(files("ingest") / "migrations"))
START_TIMEOUT_S = 90


def _install() -> Path:
    """The server script and its node_modules in the cache folder; skip when that cannot be had."""
    return npm_folder("pglite-timescale", HERE, "the TimescaleDB DDL check (PGlite + TimescaleDB runs on Node)",
                      scripts=("server.mjs",))


def _start(folder: Path, log: Path) -> tuple[subprocess.Popen[bytes], int]:
    """``node server.mjs PORT`` until it prints ``ready``; a new port when another process took it."""
    for _ in range(3):
        port = free_port()
        with log.open("wb") as out:
            proc = subprocess.Popen(["node", "server.mjs", str(port)], cwd=folder, stdout=out,
                                    stderr=subprocess.STDOUT)
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline and proc.poll() is None:
            if b"ready" in log.read_bytes():
                return proc, port
            time.sleep(0.2)
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        if b"EADDRINUSE" not in log.read_bytes():
            break
    pytest.fail(f"PGlite + TimescaleDB server did not start; its log:\n{log.read_text()[-3000:]}", pytrace=False)


@pytest.fixture(scope="module")
def pglite_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    folder = _install()
    proc, port = _start(folder, tmp_path_factory.mktemp("pglite") / "server.log")
    try:
        # pglite-socket: user postgres with password postgres, no TLS (it answers the SSL request with
        # an authentication message); the database name is not checked.
        yield f"postgresql://postgres:postgres@127.0.0.1:{port}/postgres?sslmode=disable"
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _one_connection_backend(url: str) -> PostgresqlPsycopgBackend:
    shared: list[psycopg.Connection] = []

    class OneConnection(PostgresqlPsycopgBackend):
        def connect(self, dburi):  # type: ignore[no-untyped-def]
            if not shared:
                shared.append(super().connect(dburi))
            return shared[0]

        def __exit__(self, *exc: object) -> None:  # the copy yoyo applies a migration with: keep it open
            pass

    backend = OneConnection(parse_uri(url.replace("postgresql://", "postgresql+psycopg://", 1)), "_yoyo_migration")
    backend.init_database()
    return backend


@pytest.fixture(scope="module")
def migrated(pglite_url: str) -> tuple[str, list[str]]:
    backend = _one_connection_backend(pglite_url)
    try:
        migrations = read_migrations(str(MIGRATIONS))
        with backend.lock():
            pending = backend.to_apply(migrations)
            backend.apply_migrations(pending)
        left = backend.to_apply(read_migrations(str(MIGRATIONS)))
        assert not left, f"still pending after migrating: {[m.id for m in left]}"
    finally:
        backend.connection.close()
    return pglite_url, [m.id for m in pending]


def _connect(url: str) -> psycopg.Connection:
    return psycopg.connect(url, autocommit=True, prepare_threshold=None)


def _insert_alert(conn: psycopg.Connection, alert_id: str, at: datetime, grid_id: str, confidence: float) -> None:
    conn.execute(
        "INSERT INTO alerts (id, observed_at, category, type, device_id, site_id, lat, lon, confidence, grid_id,"
        " payload) VALUES (%s, %s, 'fire', 'smoke', 'cam-1', 'site-1', 30.27, 120.15, %s, %s, '{}')",
        (alert_id, at, confidence, grid_id),
    )


def _hourly(conn: psycopg.Connection, grids: tuple[str, ...]) -> list[tuple]:
    return conn.execute(
        "SELECT bucket, grid_id, category, alerts, max_confidence FROM alerts_hourly_by_grid"
        " WHERE grid_id = ANY(%s) ORDER BY bucket, grid_id", (list(grids),)
    ).fetchall()


def test_every_migration_applies_with_the_timescaledb_branch(migrated: tuple[str, list[str]]) -> None:
    url, applied = migrated
    assert applied == sorted(p.stem for p in MIGRATIONS.iterdir() if p.suffix in (".sql", ".py"))
    with _connect(url) as conn:
        assert conn.execute("SELECT extversion FROM pg_extension WHERE extname = 'timescaledb'").fetchone()
        hypertables = conn.execute(
            "SELECT h.hypertable_name, d.column_name FROM timescaledb_information.hypertables h"
            " JOIN timescaledb_information.dimensions d USING (hypertable_schema, hypertable_name) ORDER BY 1"
        ).fetchall()
        assert hypertables == [("alerts", "observed_at"), ("device_heartbeats", "seen_at"), ("reports", "reported_at")]
        assert conn.execute(
            "SELECT materialized_only FROM timescaledb_information.continuous_aggregates"
            " WHERE view_name = 'alerts_hourly_by_grid'"
        ).fetchall() == [(False,)]
        jobs = conn.execute(
            "SELECT proc_name, hypertable_name, config->>'drop_after' FROM timescaledb_information.jobs"
            " WHERE proc_name IN ('policy_retention', 'policy_refresh_continuous_aggregate') ORDER BY 1, 2"
        ).fetchall()
        assert jobs == [
            ("policy_refresh_continuous_aggregate", "alerts_hourly_by_grid", None),
            ("policy_retention", "alerts", "180 days"),
            ("policy_retention", "device_heartbeats", "180 days"),
            ("policy_retention", "reports", "180 days"),
        ]
        # 0003 ran on the hypertable: its column and partial index are there.
        assert conn.execute("SELECT 1 FROM information_schema.columns WHERE table_name = 'alerts'"
                            " AND column_name = 'expired_at'").fetchone()
        assert conn.execute("SELECT 1 FROM pg_indexes WHERE indexname = 'alerts_incident_idx'").fetchone()


def test_hourly_aggregate_counts_before_and_after_a_refresh(migrated: tuple[str, list[str]]) -> None:
    url, _ = migrated
    hour = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) - timedelta(days=2)
    grids = ("AGG-G1", "AGG-G2")
    expected = [(hour, "AGG-G1", "fire", 2, 0.9), (hour, "AGG-G2", "fire", 1, 0.6),
                (hour + timedelta(hours=1), "AGG-G1", "fire", 1, 0.7)]
    with _connect(url) as conn:
        _insert_alert(conn, "agg-1", hour + timedelta(minutes=5), "AGG-G1", 0.5)
        _insert_alert(conn, "agg-2", hour + timedelta(minutes=55), "AGG-G1", 0.9)
        _insert_alert(conn, "agg-3", hour + timedelta(minutes=61), "AGG-G1", 0.7)
        _insert_alert(conn, "agg-4", hour + timedelta(minutes=30), "AGG-G2", 0.6)
        rows = [(b, g, c, n, pytest.approx(m)) for b, g, c, n, m in _hourly(conn, grids)]
        assert rows == expected, "real-time aggregate (nothing materialized yet) must match the plain view"
        conn.execute("CALL refresh_continuous_aggregate('alerts_hourly_by_grid', NULL, NULL)")
        rows = [(b, g, c, n, pytest.approx(m)) for b, g, c, n, m in _hourly(conn, grids)]
        assert rows == expected
        # A late alert in an hour already materialized shows once the refresh (policy or manual) runs.
        _insert_alert(conn, "agg-5", hour + timedelta(minutes=10), "AGG-G2", 0.8)
        conn.execute("CALL refresh_continuous_aggregate('alerts_hourly_by_grid', NULL, NULL)")
        assert _hourly(conn, ("AGG-G2",))[0][3:] == (2, pytest.approx(0.8))


def test_retention_job_drops_chunks_older_than_180_days(migrated: tuple[str, list[str]]) -> None:
    url, _ = migrated
    now = datetime.now(UTC)
    with _connect(url) as conn:
        _insert_alert(conn, "old-1", now - timedelta(days=200), "RET-G1", 0.4)
        _insert_alert(conn, "new-1", now - timedelta(days=1), "RET-G1", 0.4)
        job = conn.execute("SELECT job_id FROM timescaledb_information.jobs WHERE proc_name = 'policy_retention'"
                           " AND hypertable_name = 'alerts'").fetchone()
        assert job is not None
        conn.execute(f"CALL run_job({int(job[0])})")
        left = conn.execute("SELECT id FROM alerts WHERE grid_id = 'RET-G1' ORDER BY id").fetchall()
        assert left == [("new-1",)]


def test_0002_and_0004_roll_back_and_apply_again(migrated: tuple[str, list[str]]) -> None:
    url, _ = migrated
    by_id = {m.id: m for m in read_migrations(str(MIGRATIONS))}
    backend = _one_connection_backend(url)
    conn = backend.connection
    aggregate = "SELECT materialized_only FROM timescaledb_information.continuous_aggregates"
    try:
        by_id["0004_realtime_hourly"].process_steps(backend, "rollback")
        assert conn.execute(aggregate).fetchall() == [(True,)]
        by_id["0002_timescale"].process_steps(backend, "rollback")
        assert not conn.execute("SELECT 1 FROM pg_class WHERE relname = 'alerts_hourly_by_grid'").fetchone()
        by_id["0002_timescale"].process_steps(backend, "apply")
        by_id["0004_realtime_hourly"].process_steps(backend, "apply")
        assert conn.execute(aggregate).fetchall() == [(False,)]
        assert conn.execute("SELECT count(*) FROM timescaledb_information.hypertables").fetchone() == (3,)
    finally:
        conn.close()
