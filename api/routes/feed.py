"""Live incident changes as Server-Sent Events, for the console (``EventSource('/v1/feed')``).

Every ``feed_poll_s`` the stream reads the outbox above its cursor and sends one ``incident``
event per changed incident, carrying the incident's *current* state (so an event can never roll
a client back to an older state, whatever order the changes committed in). Each event's ``id:`` is
the cursor's watermark, so a reconnecting EventSource sends ``Last-Event-ID`` and resumes there.
A first ``ready`` event tells the client where the stream starts: load the list after it and
nothing falls between the list and the stream.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import AsyncIterator
from typing import Annotated

import psycopg
from fastapi import APIRouter, Header, Query, Request
from fastapi.responses import StreamingResponse
from psycopg import Connection
from psycopg.rows import DictRow
from psycopg_pool import ConnectionPool, PoolTimeout
from starlette.concurrency import run_in_threadpool

from api.deps import ApiTuning, EscalationDep, PoolDep, TuningDep
from api.feedcursor import OutboxCursor
from api.schemas import IncidentSummary
from api.store.incidents import summaries_by_id
from api.store.outbox import changes_after, latest_seq
from ingest.escalation import EscalationConfig

log = logging.getLogger(__name__)
router = APIRouter(prefix="/v1", tags=["feed"])
Pool = ConnectionPool[Connection[DictRow]]
RECONNECT_MS = 2000


@router.get("/feed", response_class=StreamingResponse,
            responses={200: {"content": {"text/event-stream": {}}, "description": "incident changes"}})
async def feed(
    request: Request,
    pool: PoolDep,
    tuning: TuningDep,
    escalation: EscalationDep,
    last_event_id: Annotated[str | None, Header(description="sent by EventSource on reconnect")] = None,
    after: Annotated[int | None, Query(ge=0, description="resume after this cursor")] = None,
) -> StreamingResponse:
    """Stream incident changes; starts at "now" unless resuming from ``Last-Event-ID`` or ``after``."""
    start = _parse_cursor(last_event_id)
    if start is None:
        start = after if after is not None else await run_in_threadpool(_latest, pool)
    cursor = OutboxCursor(watermark=start, gap_grace_s=tuning.feed_gap_grace_s)
    return StreamingResponse(
        _events(request, pool, cursor, tuning, escalation),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


def _parse_cursor(value: str | None) -> int | None:
    try:
        return int(value) if value is not None and int(value) >= 0 else None
    except ValueError:
        return None  # not ours (another server's id): start afresh rather than fail the stream


def _latest(pool: Pool) -> int:
    with pool.connection() as conn:
        return latest_seq(conn)


def _poll(pool: Pool, cursor: OutboxCursor, escalation: EscalationConfig) -> list[IncidentSummary]:
    """One round: which incidents changed since the cursor, as they are now. The cursor moves only
    after the incidents were read, so a failed round is simply repeated."""
    with pool.connection() as conn:
        rows = changes_after(conn, cursor.watermark, cursor.sent_above_watermark)
        changed = list(dict.fromkeys(incident_id for _, incident_id in rows))
        incidents = summaries_by_id(conn, changed, escalation) if changed else []
    cursor.advance([seq for seq, _ in rows], now=time.monotonic())
    return incidents


def sse(event: str, data: str, event_id: int | None = None) -> str:
    """One Server-Sent Event; ``data`` must be a single line (JSON is)."""
    head = f"id: {event_id}\n" if event_id is not None else ""
    return f"{head}event: {event}\ndata: {data}\n\n"


async def _events(request: Request, pool: Pool, cursor: OutboxCursor, tuning: ApiTuning,
                  escalation: EscalationConfig) -> AsyncIterator[str]:
    yield f"retry: {RECONNECT_MS}\n" + sse("ready", json.dumps({"cursor": cursor.watermark}), cursor.watermark)
    quiet_since = time.monotonic()
    while not await request.is_disconnected():
        try:
            incidents = await run_in_threadpool(_poll, pool, cursor, escalation)
        except (psycopg.Error, PoolTimeout) as exc:
            log.warning("feed poll failed, retrying: %s", exc)
            yield sse("error", json.dumps({"detail": "database unavailable, retrying"}))
            incidents = []
            await asyncio.sleep(tuning.feed_poll_s * 4)
        for i, incident in enumerate(incidents, start=1):
            # Only the batch's last event moves the client's Last-Event-ID: a stream cut mid-batch
            # then resumes before the batch and repeats it, instead of skipping its tail.
            yield sse("incident", incident.model_dump_json(), cursor.watermark if i == len(incidents) else None)
        if incidents:
            quiet_since = time.monotonic()
        elif time.monotonic() - quiet_since >= tuning.feed_keepalive_s:
            yield ": keepalive\n\n"  # keeps proxies from closing an idle stream
            quiet_since = time.monotonic()
        await asyncio.sleep(tuning.feed_poll_s)
