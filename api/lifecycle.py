"""The dispatchers' closed loop as a pure state machine: which action moves an incident where.

Kept apart from HTTP and SQL so the whole table can be tested exhaustively, and so the 409 message
can list exactly what *is* allowed from the current status.

    open --assign--> assigned --start--> in_progress --resolve--> resolved --close--> closed
    open | assigned | in_progress --dismiss--> dismissed          (false alarm)
    resolved | closed | dismissed --reopen--> open                (it came back, or was closed by mistake)
"""

from __future__ import annotations

from typing import Literal, get_args

from gridwatch.contracts import STATUSES, Status

Action = Literal["assign", "start", "resolve", "close", "dismiss", "reopen"]
ACTIONS: tuple[str, ...] = get_args(Action)

# action -> (statuses it may start from, status it leads to)
TRANSITIONS: dict[str, tuple[frozenset[str], Status]] = {
    "assign": (frozenset({"open"}), "assigned"),
    "start": (frozenset({"assigned"}), "in_progress"),
    "resolve": (frozenset({"in_progress"}), "resolved"),
    "close": (frozenset({"resolved"}), "closed"),
    "dismiss": (frozenset({"open", "assigned", "in_progress"}), "dismissed"),
    "reopen": (frozenset({"resolved", "closed", "dismissed"}), "open"),
}

# Statuses in which someone still has to act; "open incidents" in counts means these.
ACTIVE_STATUSES: tuple[str, ...] = ("open", "assigned", "in_progress")


class InvalidTransition(Exception):
    """An action that the current status does not allow; the message names the allowed ones."""

    def __init__(self, status: str, action: str, merged_into: str | None = None) -> None:
        self.status = status
        self.action = action
        self.allowed = allowed_actions(status, merged_into)
        if merged_into:
            message = f"cannot {action} incident: it was merged into {merged_into}; act on that one"
        else:
            message = (f"cannot {action} an incident that is {status}; allowed from {status}: "
                       f"{', '.join(self.allowed) or 'none'}")
        super().__init__(message)


def allowed_actions(status: str, merged_into: str | None = None) -> list[str]:
    """Actions possible from ``status``, in the table's order (assign, start, ... reopen); none for an
    incident merged into another (its evidence and its work continue in the one it joined)."""
    if merged_into is not None:
        return []
    return [action for action, (sources, _) in TRANSITIONS.items() if status in sources]


def next_status(status: str, action: str) -> Status:
    """The status ``action`` leads to from ``status``; raises ``InvalidTransition`` if not allowed.

    >>> next_status("open", "assign")
    'assigned'
    """
    if status not in STATUSES:
        raise ValueError(f"unknown status {status!r}")
    if action not in TRANSITIONS:
        raise ValueError(f"unknown action {action!r}; one of {', '.join(ACTIONS)}")
    sources, target = TRANSITIONS[action]
    if status not in sources:
        raise InvalidTransition(status, action)
    return target
