"""GridWatch's own components running inside a test: the ingest worker and the edge agent."""

from __future__ import annotations

import secrets
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import yaml
from prometheus_client import CollectorRegistry

from edge.agent import EdgeAgent
from edge.config import SiteConfig, load_site
from gridwatch.settings import Settings
from ingest.consumer import IngestWorker
from ingest.service import build_escalator, build_worker, run_loop
from ingest.snapshots import SnapshotConsumer, start_snapshot_consumer


@contextmanager
def running_ingest(settings: Settings, grids_file: Path | None = None) -> Iterator[IngestWorker]:
    """The real ingest worker, with its escalation runner, on a thread; stopped and closed on exit."""
    registry = CollectorRegistry()
    escalator = build_escalator(settings, registry)
    worker = build_worker(settings, grids_file, registry)
    stop = threading.Event()
    thread = threading.Thread(target=run_loop, args=(worker, stop, escalator), daemon=True)
    thread.start()
    try:
        yield worker
    finally:
        stop.set()
        thread.join(timeout=30)
        escalator.close()
        worker.close()


def write_site(tmp_path: Path, **overrides: Any) -> tuple[SiteConfig, Path]:
    """A site file of the test's own (site id and button topic unique), loaded the way the CLI does."""
    token = secrets.token_hex(4)
    data: dict[str, Any] = {
        "site_id": f"site-{token}", "lat": 37.8614259, "lon": 112.553341,
        "buttons": [{"id": "btn-gate-east", "topic": f"zigbee2mqtt/{token}/btn-gate-east", "payload": "zigbee2mqtt",
                     "lat": 37.86151, "lon": 112.55362}],
    }
    data.update(overrides)
    path = tmp_path / "site.yaml"
    path.write_text(yaml.safe_dump(data))
    return load_site(path), path


@contextmanager
def running_agent(settings: Settings, site: SiteConfig, site_path: Path) -> Iterator[EdgeAgent]:
    """The real agent with its tick loop on a thread; yields once its MQTT subscriptions are live."""
    agent = EdgeAgent(settings, site, site_path)
    stop = threading.Event()
    agent.start()
    loop = threading.Thread(target=agent.run_until, args=(stop,), daemon=True)
    loop.start()
    try:
        if agent.subscriber is not None:
            assert agent.subscriber.wait_connected(15), "agent never subscribed to MQTT"
        yield agent
    finally:
        stop.set()
        loop.join(10)
        agent.stop()


@contextmanager
def running_snapshot_consumer(settings: Settings) -> Iterator[SnapshotConsumer]:
    """The snapshot consumer's own loop (``run``, with its rewind and retry) on its thread."""
    stop = threading.Event()
    consumer, thread = start_snapshot_consumer(settings, CollectorRegistry(), stop)
    try:
        yield consumer
    finally:
        stop.set()
        thread.join(15)
        consumer.close()
