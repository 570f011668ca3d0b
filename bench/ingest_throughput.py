"""Live ingest throughput: alerts per second from Kafka into PostgreSQL, with incidents raised.

Starts its own Kafka and PostgreSQL (gridwatch.servers, the code `gridwatch up` and the tests use),
produces a simulated district's alerts to a fresh topic, and times the real ingest worker until
every alert is stored with its incident. The baseline, measured in the same run on a fresh database
and topic, is the same worker handling one message per transaction (row by row).

    .venv/bin/python -m bench.ingest_throughput --alerts 100000 --baseline-alerts 500

The worker runs with the ingest's own settings, ``gc_threshold`` included (as ``run_ingest`` applies
it); ``--gc-threshold 700`` measures CPython's default beside it.

Besides the rate it prints the seconds of each stage of a batch (ingest/stages.py) and the rate the
same run would give with a faster incident engine, all stages but the engine kept as measured. The
machine's load average is printed beside the figures: on a shared machine they move with it.

Target (issue 3): >= 5,000 alerts per second sustained on this machine.
"""

from __future__ import annotations

import argparse
import gc
import os
import secrets
import shutil
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import psycopg
from prometheus_client import CollectorRegistry

from bench.scenario import generate
from gridwatch.contracts import Alert
from gridwatch.gridmap import parse_grid_map
from gridwatch.kafka import ensure_topics, make_producer
from gridwatch.servers import KafkaServer, PostgresServer
from gridwatch.settings import Settings
from ingest.engine import COMPILABLE
from ingest.engine.compiled import describe as describe_engine
from ingest.gc_policy import PYTHON_DEFAULT, apply_gc_threshold
from ingest.gridstore import store_grid_map
from ingest.migrate import migrate
from ingest.service import build_worker, run_loop

TARGET = 5_000


def alerts_for(count: int) -> tuple[list[Alert], dict]:
    """Enough simulated days to give ``count`` alerts, in arrival order."""
    scenario = generate(7, days=max(1, count // 5000 + 1), events_per_day=300)
    alerts = [o for o in scenario.observations if isinstance(o, Alert)][:count]
    return alerts, scenario.grid_map


def produce(settings: Settings, alerts: list[Alert]) -> None:
    producer = make_producer(settings.kafka, linger_ms=20)
    for alert in alerts:
        producer.send(settings.kafka.topics.alerts, key=alert.device_id.encode(), value=alert.to_json())
    producer.flush()
    producer.close()


def settings_for(kafka: KafkaServer, pg: PostgresServer, batch_max: int, gc_threshold: int) -> Settings:
    token = secrets.token_hex(4)
    url = pg.create_database(f"bench_{token}")
    migrate(url)
    topics = {name: f"bench.{name}.{token}" for name in ("alerts", "reports", "incidents", "heartbeats", "deadletter")}
    settings = Settings.model_validate({
        "kafka": {"bootstrap_servers": kafka.bootstrap, "topics": topics, "ingest_group": f"bench-{token}"},
        "database": {"url": url}, "log_level": "WARNING",
        "ingest": {"batch_max": batch_max, "metrics_port": 0, "gc_threshold": gc_threshold},
    })
    ensure_topics(settings.kafka)
    return settings


@dataclass
class Measured:
    rate: float  # alerts per second, sustained
    alerts: int
    stage_seconds: dict[str, float]  # summed over the whole run, the first batch included
    stage_cpu_seconds: dict[str, float]  # the worker thread's CPU time in each stage
    ingest_cpu_s: float  # CPU of this process (worker, Kafka client threads) while sustained
    postgres_cpu_s: float  # CPU of the worker's PostgreSQL backends (reads, writes) while sustained
    sustained_alerts: int


def backend_cpu_s(pid: int) -> float:
    """User + system CPU seconds of a local process (a PostgreSQL backend) from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def time_ingest(settings: Settings, alerts: list[Alert], grid_map: dict) -> Measured:
    """Sustained rate: alerts per second from the first stored batch until every alert is stored
    (the consumer group's join, a few seconds once per start, is left out)."""
    store_grid_map(settings.database.url, parse_grid_map(grid_map, Path("bench")), source="bench")
    produce(settings, alerts)
    expected = len({a.id for a in alerts})
    previous_gc = apply_gc_threshold(settings.ingest.gc_threshold)  # what run_ingest does at start
    worker = build_worker(settings, None, CollectorRegistry())
    stop = threading.Event()
    thread = threading.Thread(target=run_loop, args=(worker, stop), daemon=True)
    thread.start()
    with psycopg.connect(settings.database.url, autocommit=True) as conn:
        def stored() -> int:
            return conn.execute("SELECT count(*) FROM alerts").fetchone()[0]  # type: ignore[index]

        while (first := stored()) == 0:
            time.sleep(0.01)
        start = time.perf_counter()
        backends = worker.backend_pids()
        cpu_start, pg_start = time.process_time(), sum(map(backend_cpu_s, backends))
        while stored() < expected:
            time.sleep(0.05)
        rate = (expected - first) / (time.perf_counter() - start)
        ingest_cpu = time.process_time() - cpu_start
        postgres_cpu = sum(map(backend_cpu_s, backends)) - pg_start
    stop.set()
    thread.join(timeout=30)
    worker.close()
    gc.set_threshold(*previous_gc)
    stages = worker.metrics.stages
    return Measured(rate, expected, dict(stages.seconds), dict(stages.cpu_seconds), ingest_cpu, postgres_cpu,
                    expected - first)


def print_stages(measured: Measured) -> None:
    """Share of each stage, and the rate the same run would give with a faster engine. Poll and
    decode of the next batch run on a helper thread and the writes on the writer's, beside the
    engine, so the stages' sum exceeds the wall time."""
    total = sum(measured.stage_seconds.values())
    print(f"  time per stage over {measured.alerts:,} alerts ({total:.1f} s of stages in all; wall, then the "
          f"CPU of the thread that ran it):")
    for name, seconds in measured.stage_seconds.items():
        cpu = measured.stage_cpu_seconds[name]
        print(f"    {name:14s} {seconds:7.2f} s  {seconds / total:6.1%}  {seconds / measured.alerts * 1e6:7.1f} us/alert"
              f"   cpu {cpu / measured.alerts * 1e6:7.1f} us/alert")
    ingest_us = measured.ingest_cpu_s / measured.sustained_alerts * 1e6
    postgres_us = measured.postgres_cpu_s / measured.sustained_alerts * 1e6
    # The writer overlaps the database with the engine: the slower of the two sides bounds the rate
    # (the ingest's Python threads share one GIL, so its side is its whole CPU).
    print(f"    CPU per alert while sustained: ingest process {ingest_us:.0f} us, its PostgreSQL backends "
          f"{postgres_us:.0f} us; with both CPUs free: ~{1e6 / max(ingest_us, postgres_us):,.0f} alerts/s overlapped, "
          f"~{1e6 / (ingest_us + postgres_us):,.0f} serial")
    engine_cpu_us = measured.stage_cpu_seconds["engine"] / measured.alerts * 1e6
    for speedup in (2, 4, float("inf")):
        faster = ingest_us - engine_cpu_us + engine_cpu_us / speedup
        label = "no engine time" if speedup == float("inf") else f"engine {speedup:.0f}x faster"
        # From the measured rate, as if the ingest's CPU alone set it at this load.
        print(f"    predicted with {label:18s} {measured.rate * ingest_us / faster:8,.0f} alerts/s at this load; "
              f"~{1e6 / max(faster, postgres_us):,.0f} with both CPUs free")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--alerts", type=int, default=50_000)
    parser.add_argument("--baseline-alerts", type=int, default=3_000, help="row by row is slow: a smaller sample")
    parser.add_argument("--batch", type=int, action="append",
                        help="messages per transaction; repeat to compare sizes in one run "
                             "(default: the ingest's own batch_max)")
    parser.add_argument("--gc-threshold", type=int, default=Settings().ingest.gc_threshold,
                        help=f"the ingest's gc_threshold (default: its own; {PYTHON_DEFAULT} is CPython's default)")
    args = parser.parse_args()
    batches = args.batch or [Settings().ingest.batch_max]
    alerts, grid_map = alerts_for(args.alerts)
    sample = alerts[: args.baseline_alerts]
    root = Path(tempfile.mkdtemp(prefix="gridwatch-bench-"))
    root.chmod(0o711)
    try:
        with KafkaServer(root) as kafka, PostgresServer(root) as pg:
            measured = {batch: time_ingest(settings_for(kafka, pg, batch, args.gc_threshold), alerts, grid_map) for batch in batches}
            base = time_ingest(settings_for(kafka, pg, 1, args.gc_threshold), sample, grid_map).rate
    finally:
        shutil.rmtree(root, ignore_errors=True)
    print(f"ingest, Kafka -> PostgreSQL with incidents, {len(alerts)} alerts, engine {describe_engine(COMPILABLE)} "
          f"(gc threshold {args.gc_threshold}, load average {load_average()}):")
    print(f"  baseline (row by row, {len(sample)} alerts)  {base:10,.0f} alerts/s")
    for batch, batched in measured.items():
        rate = batched.rate
        verdict = "met" if rate >= TARGET else f"MISSED ({rate / TARGET:.0%} of it)"
        print(f"  batched ({batch} per transaction)  {rate:10,.0f} alerts/s  ratio {rate / base:.1f}x; "
              f"target {TARGET:,}/s: {verdict}")
        print_stages(batched)
    return 0


def load_average() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


if __name__ == "__main__":
    sys.exit(main())
