"""``gridwatch ingest``: wiring of the consumer loop, health and metrics. No logic of its own."""

from __future__ import annotations

import logging
import signal
import threading
import time
from pathlib import Path

import psycopg
from prometheus_client import CollectorRegistry
from tenacity import (
    Retrying,
    retry_if_exception_type,
    stop_after_delay,
    wait_exponential,
)

from gridwatch.backoff import Backoff
from gridwatch.gridmap import load_grid_map, map_version
from gridwatch.kafka import ensure_topics, make_consumer, make_producer
from gridwatch.observability import serve_health
from gridwatch.settings import Settings
from ingest.consumer import IngestMetrics, IngestWorker
from ingest.engine import COMPILABLE, load_engine_config
from ingest.engine.compiled import describe
from ingest.escalation import load_escalation_config
from ingest.escalator import EscalationMetrics, EscalationRunner
from ingest.gc_policy import apply_gc_threshold
from ingest.gridstore import store_grid_map, stored_map_version
from ingest.migrate import migrate
from ingest.snapshots import start_snapshot_consumer

log = logging.getLogger(__name__)

HEALTHY_POLL_AGE_S = 60.0


def _connect(url: str) -> psycopg.Connection:
    """Connect, waiting up to a minute for a database that is still starting."""
    for attempt in Retrying(retry=retry_if_exception_type(psycopg.OperationalError),
                            wait=wait_exponential(max=5), stop=stop_after_delay(60), reraise=True):
        with attempt:
            return psycopg.connect(url)
    raise AssertionError("unreachable")


def _load_grid_file(settings: Settings, conn: psycopg.Connection, grids_file: Path) -> None:
    grid_map = load_grid_map(grids_file)
    if stored_map_version(conn) != map_version(grid_map):
        version = store_grid_map(settings.database.url, grid_map, source=str(grids_file))
        log.info("grid map loaded", extra={"file": str(grids_file), "version": version,
                                           "grids": len(grid_map.features)})
    conn.commit()


def build_worker(settings: Settings, grids_file: Path | None, registry: CollectorRegistry,
                 engine_config_file: Path | None = None) -> IngestWorker:
    migrate(settings.database.url)
    conn = _connect(settings.database.url)
    grids_file = grids_file or settings.ingest.grids_file
    if grids_file is not None:
        _load_grid_file(settings, conn, grids_file)
    ensure_topics(settings.kafka)
    topics = settings.kafka.topics
    consumer = make_consumer(settings.kafka, [topics.alerts, topics.reports, topics.heartbeats, topics.deadletter],
                             settings.kafka.ingest_group, max_poll_records=settings.ingest.batch_max)
    producer = make_producer(settings.kafka)
    return IngestWorker(settings, conn, consumer, producer, load_engine_config(engine_config_file),
                        IngestMetrics.create(registry))


def build_escalator(settings: Settings, registry: CollectorRegistry) -> EscalationRunner:
    """The escalation runner; a bad limits file stops the start with file, line and field."""
    return EscalationRunner(settings.database.url, load_escalation_config(settings.escalation_file),
                            EscalationMetrics.create(registry), settings.ingest.escalation_every_s,
                            settings.ingest.escalation_batch_max)


def run_loop(worker: IngestWorker, stop: threading.Event, escalator: EscalationRunner | None = None) -> None:
    """Run batches until ``stop``; on a failed batch, back off, recover and go on. Between batches,
    escalate what is due (its changes go out with the next ``publish_outbox``)."""
    backoff = Backoff(initial_s=0.5, max_s=30.0)
    while not stop.is_set():
        if escalator is not None:
            escalator.maybe_run()
        try:
            worker.run_once()
            backoff.reset()
        except Exception as exc:  # noqa: BLE001 - the loop must survive a broker or database outage
            log.exception("batch failed; recovering from the last committed state")
            worker.batch_failed(exc)
            stop.wait(backoff.next_delay())
            try:
                worker.recover()
            except Exception:  # noqa: BLE001
                log.exception("recovery failed; will retry")


def run_ingest(settings: Settings, grids_file: Path | None = None) -> int:
    apply_gc_threshold(settings.ingest.gc_threshold)
    registry = CollectorRegistry()
    escalator = build_escalator(settings, registry)
    worker = build_worker(settings, grids_file, registry)
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    snapshots, snapshot_thread = start_snapshot_consumer(settings, registry, stop)

    def health() -> dict[str, object]:
        polled_ago = time.monotonic() - worker.last_poll_ok
        ok = not worker.conn.closed and polled_ago < HEALTHY_POLL_AGE_S
        return {"ok": ok, "last_poll_s_ago": round(polled_ago, 1), "grid_map": worker.grid_version}

    server = serve_health(settings.ingest.metrics_port, registry, health) if settings.ingest.metrics_port else None
    log.info("ingest started", extra={"topics": settings.kafka.topics.model_dump(), "grid_map": worker.grid_version,
                                      "engine": describe(COMPILABLE)})
    try:
        run_loop(worker, stop, escalator)
    finally:
        escalator.close()
        stop.set()
        snapshot_thread.join(10)
        snapshots.close()
        if server is not None:
            server.shutdown()
        worker.close()
        log.info("ingest stopped")
    return 0
