"""Patrol reports: workers post them here (to Kafka), dispatchers list what the ingest stored."""

from __future__ import annotations

import json
import logging
from datetime import datetime, timezone
from typing import Annotated, Any

import psycopg
from fastapi import APIRouter, Query
from fastapi.exceptions import RequestValidationError
from psycopg import Connection
from psycopg.rows import DictRow
from psycopg_pool import ConnectionPool
from pydantic import ValidationError

from api.deps import (
    ConnDep,
    MetricsDep,
    PagingDep,
    PoolDep,
    PublisherDep,
    RawBodyDep,
    SettingsDep,
)
from api.errors import field_errors
from api.metrics import ApiMetrics
from api.publisher import KafkaPublisher, KafkaUnavailable
from api.schemas import Page, PatrolReportAccepted, PatrolReportCreate, ReportPublic
from api.store.grids import grid_in_map
from api.store.reports import ReportFilters, list_reports
from gridwatch.contracts import UtcTime
from gridwatch.deadletter import DeadLetter, explain
from gridwatch.settings import Settings

log = logging.getLogger(__name__)
router = APIRouter(prefix="/v1", tags=["reports"])

# The body is validated by hand (to keep the raw bytes of a rejected one), so describe it for OpenAPI.
REPORT_BODY: dict[str, Any] = {
    "requestBody": {"required": True,
                    "content": {"application/json": {"schema": PatrolReportCreate.model_json_schema()}}},
}


@router.post("/patrol-reports", status_code=202, openapi_extra=REPORT_BODY,
             responses={422: {"description": "invalid report; kept as a dead letter"},
                        503: {"description": "Kafka did not acknowledge in time; retry"}})
def create_patrol_report(raw: RawBodyDep, settings: SettingsDep, publisher: PublisherDep, metrics: MetricsDep,
                         pool: PoolDep) -> PatrolReportAccepted:
    """Hand a worker's report to Kafka and answer 202 only once Kafka acknowledged it (acks=all),
    so an accepted report survives an API crash; the ingest then stores it and joins an incident.
    A ``grid_id`` the loaded grid map does not have is refused (422) like any other bad field."""
    body = _validate_or_keep(raw, settings, publisher, metrics)
    _check_grid(body, raw, pool, settings, publisher, metrics)
    report = body.to_report(received_at=datetime.now(timezone.utc))
    topic = settings.kafka.topics.reports
    try:
        partition, offset = publisher.publish(topic, report.worker_id, report.to_json())
    except KafkaUnavailable:
        metrics.publish_failures.labels(topic=topic).inc()
        raise
    metrics.reports_accepted.inc()
    return PatrolReportAccepted(id=report.id, topic=topic, partition=partition, offset=offset, report=report)


def _validate_or_keep(raw: bytes, settings: Settings, publisher: KafkaPublisher,
                      metrics: ApiMetrics) -> PatrolReportCreate:
    try:
        return PatrolReportCreate.model_validate_json(raw)
    except ValidationError as exc:
        _keep_dead_letter(raw, explain(exc).replace("Value error, ", ""), settings, publisher, metrics)
        raise RequestValidationError(field_errors(exc), body=raw) from exc


def _check_grid(body: PatrolReportCreate, raw: bytes, pool: ConnectionPool[Connection[DictRow]],
                settings: Settings, publisher: KafkaPublisher, metrics: ApiMetrics) -> None:
    """Refuse a stated grid the loaded map does not have (a typo, or an app with an old map). With no
    map loaded, or the database unreachable, the report goes on: the ingest ignores a grid it does not
    know and places the report by its position, and a worker's report must not wait on our database."""
    if body.grid_id is None or _grid_known(pool, body.grid_id) is not False:
        return
    message = (f"grid {body.grid_id!r} is not in the loaded grid map (GET /v1/grids lists them); "
               "leave grid_id out to place the report by its position")
    _keep_dead_letter(raw, f"grid_id: {message}", settings, publisher, metrics)
    raise RequestValidationError([{"type": "unknown_grid", "loc": ["body", "grid_id"], "msg": message}], body=raw)


def _grid_known(pool: ConnectionPool[Connection[DictRow]], grid_id: str) -> bool | None:
    """Whether the loaded map has the grid; None when no map is loaded or the database does not answer."""
    try:
        with pool.connection(timeout=2.0) as conn:
            return grid_in_map(conn, grid_id)
    except psycopg.Error as exc:  # PoolTimeout included
        log.warning("grid of a patrol report not checked (%s); the ingest checks it", exc)
        return None


def _keep_dead_letter(raw: bytes, reason: str, settings: Settings, publisher: KafkaPublisher,
                      metrics: ApiMetrics) -> None:
    """Publish the rejected body for operators; if Kafka is down too, log it and still answer 422
    (the client's mistake is the news, and it must not wait on our outage)."""
    letter = DeadLetter.from_bytes("api", reason, raw, key=_worker_id(raw), context={"route": "POST /v1/patrol-reports"})
    topic = settings.kafka.topics.deadletter
    try:
        publisher.publish(topic, letter.key, letter.to_json())
    except KafkaUnavailable as exc:
        metrics.publish_failures.labels(topic=topic).inc()
        log.warning("dead letter not published (%s): %s", exc, letter.to_json()[:2000])


def _worker_id(raw: bytes) -> str | None:
    """The worker who sent a rejected body, if it says so: the dead letter's key, to follow up."""
    try:
        value = json.loads(raw)
    except ValueError:
        return None
    worker = value.get("worker_id") if isinstance(value, dict) else None
    return worker if isinstance(worker, str) and worker else None


@router.get("/reports")
def get_reports(
    conn: ConnDep,
    paging: PagingDep,
    worker_id: str | None = None,
    category: str | None = None,
    grid_id: Annotated[str | None, Query(description="this grid or any grid below it")] = None,
    incident_id: str | None = None,
    since: Annotated[UtcTime | None, Query(description="reported at or after, RFC 3339 with zone")] = None,
) -> Page[ReportPublic]:
    """Reports the ingest stored, newest first, with the grid and incident each landed in."""
    filters = ReportFilters(worker_id, category, grid_id, incident_id, since)
    items = list_reports(conn, filters, paging.limit, paging.offset)
    return Page(items=items, limit=paging.limit, offset=paging.offset)
