"""Turning failures into answers a client (or a dispatcher) can act on.

- 422: FastAPI's field list is kept in ``detail`` and a one-line ``message`` names each bad field;
  every 422 is counted by route and first error type.
- 404 / 409: plain ``detail``; a 409 also lists the actions allowed from the current status.
- 503: Kafka or PostgreSQL unreachable, with ``Retry-After``, instead of a hang or a bare 500.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from psycopg import DataError, OperationalError
from psycopg_pool import PoolTimeout
from pydantic import ValidationError

from api.lifecycle import InvalidTransition
from api.publisher import KafkaUnavailable
from api.store.devices import DeviceNotFound
from api.store.grids import GridNotFound
from api.store.incidents import IncidentNotFound
from api.store.snapshots import SnapshotNotFound
from gridwatch.deadletter import first_line

log = logging.getLogger(__name__)

RETRY_AFTER_S = "5"


def field_errors(error: ValidationError, prefix: str = "body") -> list[dict[str, Any]]:
    """Pydantic errors in FastAPI's shape (``loc`` starting with ``body``), JSON-safe (no ``ctx``)."""
    return [{"type": e["type"], "loc": [prefix, *e["loc"]], "msg": e["msg"]} for e in error.errors(include_url=False)]


def summarize(errors: Sequence[dict[str, Any]]) -> str:
    """``"2 problems: lat: Input should be ...; reported_at: Field required"``."""
    parts = []
    for e in errors:
        loc = [str(p) for p in e.get("loc", ())]
        if loc and loc[0] == "body":
            loc = loc[1:]
        parts.append(f"{'.'.join(loc) or 'body'}: {e.get('msg', 'invalid')}")
    noun = "problem" if len(parts) == 1 else "problems"
    return f"{len(parts)} {noun}: " + "; ".join(parts)


def route_template(request: Request) -> str:
    """The matched route's path template (``/v1/incidents/{incident_id}``): bounded label values."""
    route = request.scope.get("route")
    return getattr(route, "path", "unmatched")


async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
    errors = list(exc.errors())
    reason = str(errors[0].get("type", "invalid")) if errors else "invalid"
    request.app.state.resources.metrics.rejected.labels(route=route_template(request), reason=reason).inc()
    clean = [{"type": e.get("type"), "loc": list(e.get("loc", ())), "msg": _plain(str(e.get("msg", "")))}
             for e in errors]
    return JSONResponse(status_code=422, content={"message": summarize(clean), "detail": clean})


def _plain(msg: str) -> str:
    """Pydantic prefixes messages raised by our validators with "Value error, "; a reader needs only the rest."""
    return msg.removeprefix("Value error, ")


async def _not_found(request: Request, exc: LookupError) -> JSONResponse:
    return JSONResponse(status_code=404, content={"detail": str(exc.args[0]) if exc.args else str(exc)})


async def _invalid_transition(request: Request, exc: InvalidTransition) -> JSONResponse:
    return JSONResponse(
        status_code=409,
        content={"detail": str(exc), "status": exc.status, "action": exc.action, "allowed_actions": exc.allowed},
    )


async def _kafka_unavailable(request: Request, exc: KafkaUnavailable) -> JSONResponse:
    return JSONResponse(status_code=503, content={"detail": str(exc)}, headers={"Retry-After": RETRY_AFTER_S})


async def _database_unavailable(request: Request, exc: Exception) -> JSONResponse:
    log.warning("database unavailable: %s", exc)
    return JSONResponse(
        status_code=503,
        content={"detail": f"the database is unavailable ({type(exc).__name__}: {exc}); retry later"},
        headers={"Retry-After": RETRY_AFTER_S},
    )


async def _unstorable(request: Request, exc: DataError) -> JSONResponse:
    """A path or query value the database cannot take (a NUL character, say): the client's to fix."""
    return JSONResponse(status_code=422, content={"detail": f"the request holds a value the database cannot take: "
                                                            f"{first_line(exc)}"})


def install_handlers(app: FastAPI) -> None:
    app.add_exception_handler(RequestValidationError, _validation)  # type: ignore[arg-type]
    for not_found in (IncidentNotFound, DeviceNotFound, GridNotFound, SnapshotNotFound):
        app.add_exception_handler(not_found, _not_found)  # type: ignore[arg-type]
    app.add_exception_handler(InvalidTransition, _invalid_transition)  # type: ignore[arg-type]
    app.add_exception_handler(KafkaUnavailable, _kafka_unavailable)  # type: ignore[arg-type]
    app.add_exception_handler(PoolTimeout, _database_unavailable)
    app.add_exception_handler(OperationalError, _database_unavailable)
    app.add_exception_handler(DataError, _unstorable)  # type: ignore[arg-type]
