"""Dispatchers moving an incident through the closed loop (assign, start, resolve, close...)."""

from __future__ import annotations

from fastapi import APIRouter

from api.deps import ConnDep, EscalationDep, MetricsDep
from api.schemas import IncidentPublic, IncidentTransition
from api.store.incidents import apply_transition

router = APIRouter(prefix="/v1", tags=["incidents"])


@router.post(
    "/incidents/{incident_id}/transitions",
    responses={404: {"description": "no such incident"},
               409: {"description": "the action is not allowed from the current status; lists the allowed ones"}},
)
def post_transition(incident_id: str, change: IncidentTransition, conn: ConnDep, metrics: MetricsDep,
                    escalation: EscalationDep) -> IncidentPublic:
    """Apply one step and return the incident as it now is. Status, history and the outbox row for
    Kafka are written in one transaction, so subscribers never see a change the database lacks."""
    incident = apply_transition(conn, incident_id, change, escalation)
    metrics.transitions.labels(action=change.action).inc()
    return incident
