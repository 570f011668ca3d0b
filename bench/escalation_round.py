"""Escalation cost on PostgreSQL: one runner round, steady and after a backlog.

Starts its own PostgreSQL (gridwatch.servers), fills ``incidents`` with a district's worth of rows
(most of them finished, a share still active, clocks spread over the last two days), then times:

- one escalation round (``ingest.escalator.run_escalations``: the due query on its partial index,
  the decisions, the update, history and outbox), beside a baseline measured in the same run that
  reads every active incident and decides each in Python (what one writes without the index).
  Twice: *steady* (active incidents' clocks started within the last few minutes, as when the runner
  keeps up: few are due) and *backlog* (clocks spread over two days and never escalated: nearly
  every active incident is due, as after an outage).

Every timed round runs in a transaction that is rolled back, so each repeat sees the same rows.

    .venv/bin/python -m bench.escalation_round --incidents 200000
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import psycopg
from psycopg.rows import dict_row

from gridwatch.servers import PostgresServer
from ingest.escalation import EscalationConfig, escalate
from ingest.escalator import BATCH_MAX, Escalated, _clock, apply_escalations, run_escalations
from ingest.migrate import migrate

PERIOD_S = 15.0  # the runner's default period: a round must take a small part of it

FILL_SQL = """
INSERT INTO incidents (id, category, grid_id, grid_path, status, risk, level, lat, lon, first_seen, last_seen,
                       created_at)
SELECT 'i-' || n,
       (ARRAY['fire','alarm','crowd','parking','device','hazard','dispute','other'])[1 + mod(n, 8)],
       'G' || mod(n, 500), ARRAY['G' || mod(n, 500), 'C' || mod(n, 50), 'S' || mod(n, 5), 'D1'],
       CASE WHEN mod(n, 100) < %(active_pct)s THEN (ARRAY['open','assigned','in_progress'])[1 + mod(n, 3)]
            ELSE (ARRAY['resolved','closed','dismissed'])[1 + mod(n, 3)] END,
       (ARRAY['red','orange','yellow','blue','green'])[1 + mod(n / 8, 5)],
       (ARRAY['grid','grid','grid','community','street'])[1 + mod(n / 40, 5)],
       37.86 + (mod(n, 1000)) * 1e-5, 112.55 + (mod(n, 997)) * 1e-5,
       now() - (mod(n, 2880)) * interval '1 minute', now() - (mod(n, 2880)) * interval '1 minute',
       now() - (mod(n, 2880)) * interval '1 minute'
  FROM generate_series(1, %(n)s) AS n
"""

NAIVE_SQL = """
SELECT id, category, status, level, risk, created_at, escalated_at, reopened_at FROM incidents
 WHERE status IN ('open', 'assigned', 'in_progress') AND merged_into IS NULL ORDER BY id FOR UPDATE
"""



def naive_round(conn: psycopg.Connection[dict[str, Any]], config: EscalationConfig, now: datetime) -> list[Escalated]:
    """Baseline: every active incident read and decided in Python, then the same writes."""
    with conn.transaction(), conn.cursor() as cur:
        cur.execute(NAIVE_SQL)
        due = [Escalated(r["id"], r["category"], r["status"], step) for r in cur.fetchall()
               if (step := escalate(_clock(r), config, now)) is not None]
        apply_escalations(cur, due, now)
    return due


def timed(conn: psycopg.Connection[Any], work: Callable[[], object], repeats: int) -> tuple[float, object]:
    """Median seconds of ``work`` over ``repeats``, each rolled back."""
    times, result = [], None
    for _ in range(repeats):
        with conn.transaction(force_rollback=True):
            start = time.perf_counter()
            result = work()
            times.append(time.perf_counter() - start)
    return statistics.median(times), result


def drain(conn: psycopg.Connection[dict[str, Any]], config: EscalationConfig, now: datetime) -> tuple[list[Escalated], float]:
    """Rounds of at most BATCH_MAX until none is due, as the runner does; (all escalated, longest round s)."""
    done: list[Escalated] = []
    longest = 0.0
    while True:
        start = time.perf_counter()
        batch = run_escalations(conn, config, now)
        longest = max(longest, time.perf_counter() - start)
        done += batch
        if len(batch) < BATCH_MAX:
            return done, longest


def time_round(conn: psycopg.Connection[dict[str, Any]], config: EscalationConfig,
               repeats: int) -> tuple[float, float, float, int]:
    """(all rounds s, longest round s, baseline s, incidents due), at the database's current time."""
    now = conn.execute("SELECT now() AS now").fetchone()["now"]  # type: ignore[index]
    conn.commit()
    longest: list[float] = []
    round_s, drained = timed(conn, lambda: longest.append((d := drain(conn, config, now))[1]) or d[0], repeats)
    naive_s, naive_due = timed(conn, lambda: naive_round(conn, config, now), repeats)
    assert {e.incident_id for e in drained} == {e.incident_id for e in naive_due}  # type: ignore[union-attr]
    return round_s, statistics.median(longest), naive_s, len(drained)  # type: ignore[arg-type]


STEADY_SQL = """UPDATE incidents SET created_at = now() - mod(abs(hashtext(id)), 240) * interval '1 second'
                WHERE status IN ('open', 'assigned', 'in_progress')"""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--incidents", type=int, default=200_000)
    parser.add_argument("--active-pct", type=int, default=5, help="share of incidents still open/assigned/in progress")
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    config = EscalationConfig()
    root = Path(tempfile.mkdtemp(prefix="gridwatch-bench-"))
    root.chmod(0o711)
    try:
        with PostgresServer(root) as pg:
            url = pg.create_database("bench_escalation")
            migrate(url)
            with psycopg.connect(url, row_factory=dict_row) as conn:
                with conn.transaction():
                    conn.execute(FILL_SQL, {"n": args.incidents, "active_pct": args.active_pct})
                conn.execute("ANALYZE incidents")
                conn.commit()
                active = conn.execute("SELECT count(*) AS n FROM incidents WHERE status IN "
                                      "('open', 'assigned', 'in_progress')").fetchone()["n"]  # type: ignore[index]
                conn.commit()
                rounds = {"backlog": time_round(conn, config, args.repeats)}
                conn.execute(STEADY_SQL)
                conn.execute("ANALYZE incidents")
                conn.commit()
                rounds["steady"] = time_round(conn, config, args.repeats)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    load = os.getloadavg()
    print(f"escalation rounds on PostgreSQL, {args.incidents:,} incidents ({active:,} active); "
          f"load {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}; median of {args.repeats}, rolled back:")
    for name, (round_s, longest_s, naive_s, due) in rounds.items():
        print(f"  {name:8s} {due:6,} due: rounds of <= {BATCH_MAX} on the partial index {round_s * 1000:8.1f} ms "
              f"(longest transaction {longest_s * 1000:.1f} ms, {longest_s / PERIOD_S:.1%} of the 15 s period); "
              f"baseline (all active in one pass, in Python) {naive_s * 1000:8.1f} ms; baseline/rounds "
              f"{naive_s / round_s:.1f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
