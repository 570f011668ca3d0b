"""Liveness for orchestrators and metrics for Prometheus."""

from __future__ import annotations

from fastapi import APIRouter, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from psycopg import Connection
from psycopg.rows import DictRow
from psycopg_pool import ConnectionPool

from api.deps import MetricsDep, ResourcesDep
from api.schemas import ComponentHealth, Health

router = APIRouter(tags=["operations"])


@router.get("/healthz", responses={503: {"model": Health, "description": "the database is unreachable"}})
def healthz(resources: ResourcesDep) -> JSONResponse:
    """503 only when the database is unreachable: without Kafka the API still serves every read and
    the console, so taking it out of rotation would hide more than it saves. Kafka's state is shown."""
    database = _database(resources.pool, resources.tuning.db_timeout_s)
    kafka = resources.publisher.status()
    health = Health(ok=database.ok, database=database,
                    kafka=ComponentHealth(ok=kafka.ok, status=kafka.status, detail=kafka.detail))
    return JSONResponse(status_code=200 if health.ok else 503, content=health.model_dump())


def _database(pool: ConnectionPool[Connection[DictRow]], timeout_s: float) -> ComponentHealth:
    try:
        with pool.connection(timeout=timeout_s) as conn:
            conn.execute("SELECT 1")
    except Exception as exc:  # any failure means "not reachable" here
        return ComponentHealth(ok=False, status="unreachable", detail=f"{type(exc).__name__}: {exc}")
    return ComponentHealth(ok=True, status="reachable")


@router.get("/metrics", response_class=Response)
def metrics(api_metrics: MetricsDep) -> Response:
    return Response(generate_latest(api_metrics.registry), media_type=CONTENT_TYPE_LATEST)
