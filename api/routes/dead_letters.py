"""Rejected input and why, so an operator can fix the sender (or the validator)."""

from __future__ import annotations

from fastapi import APIRouter

from api.deps import ConnDep, PagingDep
from api.schemas import DeadLetterPublic, Page
from api.store.dead_letters import list_dead_letters

router = APIRouter(prefix="/v1", tags=["dead letters"])


@router.get("/dead-letters")
def get_dead_letters(conn: ConnDep, paging: PagingDep,
                     source: str | None = None) -> Page[DeadLetterPublic]:
    """Newest first; ``source`` is where it was refused: api, kafka, mqtt."""
    items, total = list_dead_letters(conn, source, paging.limit, paging.offset)
    return Page(items=items, limit=paging.limit, offset=paging.offset, total=total)
