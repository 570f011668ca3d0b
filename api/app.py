"""``create_app(settings)``: the HTTP API and the dispatchers' console.

Nothing is connected at import time or in ``create_app``; the database pool and the Kafka publisher
are made in the lifespan, so importing the module (tests, OpenAPI export) needs no servers, and the
API starts even while Kafka or PostgreSQL is still coming up: reads answer 503 until the database
is back, reports answer 503 until Kafka is.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import RedirectResponse
from fastapi.staticfiles import StaticFiles
from psycopg import Connection
from psycopg.rows import DictRow, dict_row
from psycopg_pool import ConnectionPool

from api.deps import ApiTuning, Resources
from api.errors import install_handlers
from api.metrics import ApiMetrics
from api.publisher import KafkaPublisher
from api.routes import alerts, dead_letters, devices, feed, grids, health, incidents, reports, stats, transitions
from gridwatch.settings import Settings
from ingest.escalation import load_escalation_config

CONSOLE_DIR = Path(__file__).parent / "console"
ROUTERS = (reports, incidents, transitions, alerts, devices, grids, stats, dead_letters, feed, health)


def _open_pool(settings: Settings, tuning: ApiTuning) -> ConnectionPool[Connection[DictRow]]:
    pool: ConnectionPool[Connection[DictRow]] = ConnectionPool(
        settings.database.url,
        min_size=1,
        max_size=tuning.pool_max_size,
        timeout=tuning.db_timeout_s,
        kwargs={"row_factory": dict_row, "autocommit": True, "connect_timeout": max(1, int(tuning.db_timeout_s))},
        check=ConnectionPool.check_connection,  # a DB restart leaves dead connections in the pool
        open=False,
        name="gridwatch-api",
    )
    pool.open(wait=False)
    return pool


def create_app(settings: Settings, tuning: ApiTuning | None = None) -> FastAPI:
    """Build the app; ``tuning`` shortens timeouts in tests."""
    tuning = tuning or ApiTuning()
    metrics = ApiMetrics.create()
    escalation = load_escalation_config(settings.escalation_file)  # the ingest's limits, for escalates_at

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        pool = _open_pool(settings, tuning)
        publisher = KafkaPublisher(settings.kafka, timeout_s=tuning.publish_timeout_s)
        app.state.resources = Resources(settings, tuning, pool, publisher, metrics, escalation)
        try:
            yield
        finally:
            publisher.close()
            pool.close()

    app = FastAPI(title="GridWatch API", version="1", lifespan=lifespan,
                  description="Patrol reports in; incidents, devices, grids and dead letters out; a live feed.")
    install_handlers(app)
    for module in ROUTERS:
        app.include_router(module.router)
    app.mount("/console", StaticFiles(directory=CONSOLE_DIR, html=True), name="console")

    @app.get("/", include_in_schema=False)
    def root() -> RedirectResponse:
        return RedirectResponse("/console/")

    return app
