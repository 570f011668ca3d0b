"""Patrol report and transition bodies: what a worker app or console may send, and what it hears back."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

import pytest
from pydantic import ValidationError

from api.schemas import IncidentTransition, PatrolReportCreate
from gridwatch.contracts import PatrolReport

RECEIVED = datetime(2026, 9, 9, 7, 20, tzinfo=timezone.utc)


def report_body(**changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"category": "hazard", "worker_id": "w-017", "lat": 37.86, "lon": 112.55,
                            "reported_at": "2026-09-09T07:15:00Z", "text": "loose signal receiver", "photos": []}
    body.update(changes)
    return {k: v for k, v in body.items() if v is not ...}


def errors_of(body: dict[str, Any]) -> dict[str, str]:
    with pytest.raises(ValidationError) as caught:
        PatrolReportCreate.model_validate(body)
    return {".".join(str(p) for p in e["loc"]): e["type"] for e in caught.value.errors()}


def test_valid_body_becomes_contract_report_with_server_id() -> None:
    report = PatrolReportCreate.model_validate(report_body()).to_report(RECEIVED)
    assert isinstance(report, PatrolReport)
    assert report.id.startswith("r-") and len(report.id) == 34
    assert report.kind == "report"
    assert report.reported_at == datetime(2026, 9, 9, 7, 15, tzinfo=timezone.utc)
    assert PatrolReport.model_validate_json(report.to_json()) == report


def test_each_report_gets_its_own_id() -> None:
    body = PatrolReportCreate.model_validate(report_body())
    assert body.to_report(RECEIVED).id != body.to_report(RECEIVED).id


def test_reported_at_defaults_to_time_received() -> None:
    report = PatrolReportCreate.model_validate(report_body(reported_at=...)).to_report(RECEIVED)
    assert report.reported_at == RECEIVED


def test_accuracy_travels_as_an_added_field_only_when_given() -> None:
    with_acc = PatrolReportCreate.model_validate(report_body(accuracy_m=8.5)).to_report(RECEIVED)
    without = PatrolReportCreate.model_validate(report_body()).to_report(RECEIVED)
    assert b'"accuracy_m":8.5' in with_acc.to_json()
    assert b"accuracy_m" not in without.to_json()


@pytest.mark.parametrize(
    ("changes", "field", "error_type"),
    [
        ({"lat": 90.0001}, "lat", "less_than_equal"),
        ({"lat": -91}, "lat", "greater_than_equal"),
        ({"lon": 180.5}, "lon", "less_than_equal"),
        ({"reported_at": "2026-09-09T07:15:00"}, "reported_at", "value_error"),  # naive: no zone
        ({"reported_at": "2100-01-01T00:00:00Z"}, "reported_at", "value_error"),  # in the future
        ({"reported_at": "yesterday"}, "reported_at", "datetime_from_date_parsing"),
        ({"category": "fier"}, "category", "value_error"),
        ({"category": "Fire"}, "category", "string_pattern_mismatch"),
        ({"worker_id": ""}, "worker_id", "string_too_short"),
        ({"accuracy_m": -1}, "accuracy_m", "greater_than_equal"),
        ({"photos": ["p"] * 21}, "photos", "too_long"),
        ({"text": "smoke\x00"}, "text", "value_error"),  # PostgreSQL's text holds no NUL
        ({"photos": ["ok", "p\x00"]}, "photos", "value_error"),
        ({"worker_id": "w\x001"}, "worker_id", "value_error"),  # every string of the body, not only the text
        ({"grid_id": "G-1\x00"}, "grid_id", "value_error"),
        ({"reported_at": "0001-01-01T00:00:00+01:00"}, "reported_at", "value_error"),  # before year 1 in UTC
        ({"lattitude": 37.0}, "lattitude", "extra_forbidden"),
        ({"id": "r-mine"}, "id", "extra_forbidden"),  # the server assigns ids
    ],
)
def test_bad_field_is_named(changes: dict[str, Any], field: str, error_type: str) -> None:
    assert errors_of(report_body(**changes)) == {field: error_type}


@pytest.mark.parametrize("missing", ["category", "worker_id", "lat", "lon"])
def test_missing_required_field_is_named(missing: str) -> None:
    assert errors_of(report_body(**{missing: ...})) == {missing: "missing"}


def test_every_problem_is_reported_at_once() -> None:
    assert errors_of({"lat": 200}) == {"category": "missing", "worker_id": "missing", "lat": "less_than_equal",
                                       "lon": "missing"}


def test_empty_body_names_all_required_fields() -> None:
    assert set(errors_of({})) == {"category", "worker_id", "lat", "lon"}


def test_transition_needs_actor_and_reason() -> None:
    with pytest.raises(ValidationError) as caught:
        IncidentTransition.model_validate({"action": "start"})
    assert {e["loc"][0] for e in caught.value.errors()} == {"actor", "reason"}


def test_assignee_is_written_into_the_history_reason() -> None:
    change = IncidentTransition(action="assign", actor="d-007", reason="nearest worker", assignee="w-017")
    assert change.history_reason() == "assigned to w-017: nearest worker"
    assert IncidentTransition(action="start", actor="w-017", reason="on site").history_reason() == "on site"


def test_assignee_on_another_action_is_refused() -> None:
    with pytest.raises(ValidationError, match="only used with action 'assign'"):
        IncidentTransition(action="close", actor="d-007", reason="done", assignee="w-017")


def test_unknown_action_is_refused() -> None:
    with pytest.raises(ValidationError) as caught:
        IncidentTransition.model_validate({"action": "escalate", "actor": "d", "reason": "r"})
    assert caught.value.errors()[0]["loc"] == ("action",)


@pytest.mark.parametrize("field", ["actor", "reason"])
def test_a_transition_with_a_nul_character_is_refused(field: str) -> None:
    with pytest.raises(ValidationError) as caught:
        IncidentTransition.model_validate({"action": "start", "actor": "d-1", "reason": "on it", field: "x\x00"})
    assert [(e["loc"], e["type"]) for e in caught.value.errors()] == [((field,), "value_error")]
