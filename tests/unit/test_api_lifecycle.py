"""The incident state machine, exhaustively: every (status, action) pair is either in the table
or refused with a message naming what is allowed."""

from __future__ import annotations

import itertools

import pytest

from api.lifecycle import ACTIONS, TRANSITIONS, InvalidTransition, allowed_actions, next_status
from gridwatch.contracts import STATUSES

VALID = {
    ("open", "assign"): "assigned",
    ("assigned", "start"): "in_progress",
    ("in_progress", "resolve"): "resolved",
    ("resolved", "close"): "closed",
    ("open", "dismiss"): "dismissed",
    ("assigned", "dismiss"): "dismissed",
    ("in_progress", "dismiss"): "dismissed",
    ("resolved", "reopen"): "open",
    ("closed", "reopen"): "open",
    ("dismissed", "reopen"): "open",
}
INVALID = [pair for pair in itertools.product(STATUSES, ACTIONS) if pair not in VALID]


@pytest.mark.parametrize(("status", "action"), sorted(VALID))
def test_valid_transition_leads_to_expected_status(status: str, action: str) -> None:
    assert next_status(status, action) == VALID[(status, action)]


@pytest.mark.parametrize(("status", "action"), INVALID)
def test_invalid_transition_is_refused_and_names_allowed_actions(status: str, action: str) -> None:
    with pytest.raises(InvalidTransition) as caught:
        next_status(status, action)
    error = caught.value
    assert (error.status, error.action) == (status, action)
    assert error.allowed == allowed_actions(status)
    assert action not in error.allowed
    for allowed in error.allowed:
        assert allowed in str(error)


def test_table_covers_every_pair_exactly_once() -> None:
    assert len(VALID) + len(INVALID) == len(STATUSES) * len(ACTIONS)
    derived = {(s, a): target for a, (sources, target) in TRANSITIONS.items() for s in sources}
    assert derived == VALID


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        ("open", ["assign", "dismiss"]),
        ("assigned", ["start", "dismiss"]),
        ("in_progress", ["resolve", "dismiss"]),
        ("resolved", ["close", "reopen"]),
        ("closed", ["reopen"]),
        ("dismissed", ["reopen"]),
    ],
)
def test_allowed_actions_per_status(status: str, expected: list[str]) -> None:
    assert allowed_actions(status) == expected


def test_the_closed_loop_runs_end_to_end() -> None:
    status = "open"
    for action in ("assign", "start", "resolve", "close", "reopen", "dismiss"):
        status = next_status(status, action)
    assert status == "dismissed"


@pytest.mark.parametrize(("status", "action"), [("escalated", "assign"), ("open", "escalate"), ("", "")])
def test_unknown_words_are_programming_errors_not_conflicts(status: str, action: str) -> None:
    with pytest.raises(ValueError) as caught:
        next_status(status, action)
    assert not isinstance(caught.value, InvalidTransition)
