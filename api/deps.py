"""Typed dependencies: routes declare what they need (``ConnDep``, ``PublisherDep``...) instead of
reaching into ``app.state``. Everything comes from the ``Resources`` built in the app's lifespan,
so nothing is created at import time and every test app has its own."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Query, Request
from psycopg import Connection
from psycopg.rows import DictRow
from psycopg_pool import ConnectionPool

from api.metrics import ApiMetrics
from api.publisher import KafkaPublisher
from gridwatch.settings import Settings
from ingest.escalation import EscalationConfig


@dataclass(frozen=True)
class ApiTuning:
    """Timings a deployment rarely changes and tests shorten (not in ``Settings``, which ops tune)."""

    publish_timeout_s: float = 5.0
    feed_poll_s: float = 0.5
    feed_keepalive_s: float = 15.0
    feed_gap_grace_s: float = 30.0
    db_timeout_s: float = 5.0
    pool_max_size: int = 10


@dataclass(frozen=True)
class Resources:
    settings: Settings
    tuning: ApiTuning
    pool: ConnectionPool[Connection[DictRow]]
    publisher: KafkaPublisher
    metrics: ApiMetrics
    escalation: EscalationConfig


def get_resources(request: Request) -> Resources:
    return request.app.state.resources  # type: ignore[no-any-return]


ResourcesDep = Annotated[Resources, Depends(get_resources)]


def get_settings(resources: ResourcesDep) -> Settings:
    return resources.settings


def get_pool(resources: ResourcesDep) -> ConnectionPool[Connection[DictRow]]:
    return resources.pool


def get_conn(resources: ResourcesDep) -> Iterator[Connection[DictRow]]:
    """A pooled autocommit connection for one request; write paths open their own transaction."""
    with resources.pool.connection() as conn:
        yield conn


def get_publisher(resources: ResourcesDep) -> KafkaPublisher:
    return resources.publisher


def get_metrics(resources: ResourcesDep) -> ApiMetrics:
    return resources.metrics


def get_tuning(resources: ResourcesDep) -> ApiTuning:
    return resources.tuning


def get_escalation(resources: ResourcesDep) -> EscalationConfig:
    return resources.escalation


SettingsDep = Annotated[Settings, Depends(get_settings)]
PoolDep = Annotated[ConnectionPool[Connection[DictRow]], Depends(get_pool)]
ConnDep = Annotated[Connection[DictRow], Depends(get_conn)]
PublisherDep = Annotated[KafkaPublisher, Depends(get_publisher)]
MetricsDep = Annotated[ApiMetrics, Depends(get_metrics)]
TuningDep = Annotated[ApiTuning, Depends(get_tuning)]
EscalationDep = Annotated[EscalationConfig, Depends(get_escalation)]


@dataclass(frozen=True)
class Paging:
    limit: int
    offset: int


def get_paging(
    limit: Annotated[int, Query(ge=1, le=500, description="items per page")] = 50,
    offset: Annotated[int, Query(ge=0, le=100_000, description="items to skip")] = 0,
) -> Paging:
    return Paging(limit, offset)


PagingDep = Annotated[Paging, Depends(get_paging)]


async def get_raw_body(request: Request) -> bytes:
    """The body as sent, so a rejected one can be kept byte for byte as a dead letter."""
    return await request.body()


RawBodyDep = Annotated[bytes, Depends(get_raw_body)]
