"""Escalation rules (ingest/escalation.py): limits, one step at a time, the top, terminal statuses,
the risk bump, and the acknowledge clock against the handle clock. ``now`` is always injected."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from gridwatch.configfile import ConfigError
from ingest.escalation import (
    EscalationConfig,
    IncidentClock,
    Limit,
    escalate,
    format_minutes,
    load_escalation_config,
    next_deadline,
    risk_at_level,
)

REPO = Path(__file__).resolve().parents[2]
T0 = datetime(2026, 9, 9, 6, 0, tzinfo=timezone.utc)
CONFIG = EscalationConfig()
SECOND = timedelta(seconds=1)


def clock(category: str = "fire", risk: str = "red", status: str = "open", level: str = "grid",
          **times: datetime | bool | None) -> IncidentClock:
    return IncidentClock(category=category, status=status, level=level, risk=risk, raised_at=T0, **times)  # type: ignore[arg-type]


def minutes(n: float) -> datetime:
    return T0 + timedelta(minutes=n)


@pytest.mark.parametrize(
    ("category", "risk", "status", "limit_min", "reason"),
    [
        ("fire", "red", "open", 5, "not acknowledged within 5 min (fire, red)"),
        ("fire", "red", "assigned", 30, "not handled within 30 min (fire, red)"),
        ("fire", "red", "in_progress", 30, "not handled within 30 min (fire, red)"),
        ("alarm", "orange", "open", 3, "not acknowledged within 3 min (alarm, orange)"),
        ("parking", "blue", "open", 30, "not acknowledged within 30 min (parking, blue)"),
        ("parking", "blue", "assigned", 240, "not handled within 4 h (parking, blue)"),
        ("hazard", "yellow", "in_progress", 1440, "not handled within 24 h (hazard, yellow)"),
        # a risk the category does not list falls back to the default for that colour
        ("parking", "red", "open", 5, "not acknowledged within 5 min (parking, red)"),
        ("dispute", "green", "assigned", 480, "not handled within 8 h (dispute, green)"),
    ],
)
def test_each_limit_escalates_exactly_when_it_passes(category: str, risk: str, status: str, limit_min: float,
                                                     reason: str) -> None:
    incident = clock(category, risk, status)

    assert next_deadline(incident, CONFIG) is not None
    assert next_deadline(incident, CONFIG).at == minutes(limit_min)  # type: ignore[union-attr]
    assert escalate(incident, CONFIG, minutes(limit_min) - SECOND) is None
    step = escalate(incident, CONFIG, minutes(limit_min))
    assert step is not None and step.reason == reason
    assert (step.from_level, step.to_level) == ("grid", "community")


def test_unknown_category_uses_the_default_limits() -> None:
    assert next_deadline(clock("graffiti", "yellow"), CONFIG).at == minutes(15)  # type: ignore[union-attr]


def test_one_level_per_step_and_the_clock_restarts_at_the_step() -> None:
    incident = clock("fire", "red")
    late = minutes(600)  # ten hours without anyone acknowledging: still only one level

    step = escalate(incident, CONFIG, late)

    assert step is not None and (step.from_level, step.to_level) == ("grid", "community")
    assert step.next_deadline is not None and step.next_deadline.at == late + timedelta(minutes=5)
    after = replace(incident, level="community", escalated_at=late)
    assert escalate(after, CONFIG, late + timedelta(minutes=5) - SECOND) is None
    assert escalate(after, CONFIG, late + timedelta(minutes=5)).to_level == "street"  # type: ignore[union-attr]


def test_walks_up_every_level_to_district_and_stops_there() -> None:
    incident, now, seen = clock("crowd", "yellow"), T0, []
    while (deadline := next_deadline(incident, CONFIG)) is not None:
        now = deadline.at
        step = escalate(incident, CONFIG, now)
        assert step is not None
        seen.append((step.to_level, step.to_risk))
        incident = replace(incident, level=step.to_level, risk=step.to_risk, escalated_at=now)

    assert seen == [("community", "orange"), ("street", "red"), ("district", "red")]
    assert escalate(incident, CONFIG, now + timedelta(days=30)) is None


def test_street_to_district_has_no_next_deadline() -> None:
    step = escalate(clock("fire", "red", level="street"), CONFIG, minutes(5))
    assert step is not None and step.to_level == "district" and step.next_deadline is None


@pytest.mark.parametrize("status", ["resolved", "closed", "dismissed"])
def test_terminal_statuses_never_escalate(status: str) -> None:
    incident = clock("fire", "red", status)
    assert next_deadline(incident, CONFIG) is None
    assert escalate(incident, CONFIG, minutes(10_000)) is None


def test_merged_incidents_never_escalate() -> None:
    assert escalate(clock(merged=True), CONFIG, minutes(10_000)) is None


@pytest.mark.parametrize(
    ("risk", "bumped"), [("green", "blue"), ("blue", "yellow"), ("yellow", "orange"), ("orange", "red"), ("red", "red")]
)
def test_each_step_raises_risk_one_colour_never_above_red(risk: str, bumped: str) -> None:
    step = escalate(clock("other", risk), CONFIG, minutes(10_000))
    assert step is not None and (step.from_risk, step.to_risk) == (risk, bumped)


def test_history_reason_says_why_where_and_the_risk() -> None:
    bumped = escalate(clock("parking", "blue"), CONFIG, minutes(30))
    kept = escalate(clock("fire", "red", level="community"), CONFIG, minutes(5))
    assert bumped is not None and kept is not None
    assert bumped.history_reason == "not acknowledged within 30 min (parking, blue): grid → community, risk blue → yellow"
    assert kept.history_reason == "not acknowledged within 5 min (fire, red): community → street, risk stays red"


def test_a_bumped_risk_brings_its_own_tighter_limits() -> None:
    step = escalate(clock("parking", "blue"), CONFIG, minutes(30))
    assert step is not None and step.next_deadline is not None
    assert step.next_deadline.at == minutes(30 + 15)  # parking yellow: acknowledge within 15
    assert step.next_deadline.reason == "not acknowledged within 15 min (parking, yellow)"


@pytest.mark.parametrize(
    ("engine_risk", "level", "stored"),
    [("blue", "grid", "blue"), ("blue", "community", "yellow"), ("blue", "street", "orange"),
     ("blue", "district", "red"), ("orange", "street", "red"), ("red", "community", "red"),
     ("green", "community", "blue")],
)
def test_risk_at_level_is_the_engine_risk_raised_per_level(engine_risk: str, level: str, stored: str) -> None:
    assert risk_at_level(engine_risk, level) == stored


def test_risk_at_level_agrees_with_stepwise_escalation() -> None:
    for engine_risk in ("green", "blue", "yellow", "orange", "red"):
        incident, now = clock("other", engine_risk), T0
        while (step := escalate(incident, CONFIG, now := now + timedelta(days=3))) is not None:
            incident = replace(incident, level=step.to_level, risk=step.to_risk, escalated_at=now)
            assert step.to_risk == risk_at_level(engine_risk, step.to_level)


def test_acknowledging_stops_the_acknowledge_clock_not_the_handle_clock() -> None:
    open_ = clock("fire", "red", "open")
    acknowledged = clock("fire", "red", "assigned")

    assert escalate(open_, CONFIG, minutes(6)) is not None
    assert escalate(acknowledged, CONFIG, minutes(6)) is None
    assert escalate(acknowledged, CONFIG, minutes(29)) is None
    step = escalate(acknowledged, CONFIG, minutes(30))
    assert step is not None and step.reason.startswith("not handled within 30 min")


def test_handle_clock_runs_from_the_level_start_not_from_the_acknowledgement() -> None:
    # acknowledged at minute 4 or at minute 20: the handle limit is still 30 min after the raise
    assert next_deadline(clock("fire", "red", "in_progress"), CONFIG).at == minutes(30)  # type: ignore[union-attr]


def test_reopening_restarts_the_clocks() -> None:
    reopened = clock("fire", "red", "open", reopened_at=minutes(120))
    assert escalate(reopened, CONFIG, minutes(124)) is None
    assert next_deadline(reopened, CONFIG).at == minutes(125)  # type: ignore[union-attr]


def test_clock_start_is_the_latest_of_raise_escalation_and_reopen() -> None:
    incident = clock(escalated_at=minutes(40), reopened_at=minutes(20))
    assert incident.clock_start == minutes(40)


@pytest.mark.parametrize(("value", "text"), [(5, "5 min"), (90, "90 min"), (240, "4 h"), (0.5, "0.5 min"), (60, "1 h")])
def test_format_minutes(value: float, text: str) -> None:
    assert format_minutes(value) == text


# -- configuration ---------------------------------------------------------------------------------

def test_shipped_file_equals_the_built_in_defaults() -> None:
    assert load_escalation_config(REPO / "configs" / "escalation.yaml") == EscalationConfig()
    assert load_escalation_config(None) == EscalationConfig()


def test_shortest_limit_covers_every_row() -> None:
    assert CONFIG.shortest == timedelta(minutes=3)  # alarm: answer within 3 minutes
    assert EscalationConfig(categories={}).shortest == timedelta(minutes=5)


def test_table_lists_every_risk_of_every_category_and_the_default() -> None:
    table = {(c, r): limit for c, r, limit in CONFIG.table()}
    assert table[("", "green")] == Limit(acknowledge_min=60, handle_min=480)
    assert table[("fire", "red")] == Limit(acknowledge_min=5, handle_min=30)
    assert table[("fire", "blue")] == table[("", "blue")]
    assert len(table) == 5 * (1 + len(CONFIG.categories))


def _load(tmp_path: Path, text: str) -> EscalationConfig:
    path = tmp_path / "escalation.yaml"
    path.write_text(text)
    return load_escalation_config(path)


def _problems(tmp_path: Path, text: str) -> list[str]:
    with pytest.raises(ConfigError) as err:
        _load(tmp_path, text)
    return err.value.problems


def test_partial_file_keeps_default_rows_and_replaces_categories(tmp_path: Path) -> None:
    config = _load(tmp_path, "categories:\n  fire:\n    red: {acknowledge_min: 1, handle_min: 2}\n")
    assert config.limit("fire", "red") == Limit(acknowledge_min=1, handle_min=2)
    assert config.limit("parking", "blue") == Limit(acknowledge_min=30, handle_min=240)  # default blue


def test_handle_shorter_than_acknowledge_names_file_line_and_field(tmp_path: Path) -> None:
    path = tmp_path / "escalation.yaml"
    problems = _problems(tmp_path, "categories:\n  fire:\n    red: {acknowledge_min: 30, handle_min: 5}\n")
    assert problems == [f"{path}:3: categories.fire.red: Value error, handle_min (5) is shorter than acknowledge_min "
                        "(30); an incident is acknowledged before it is handled: raise handle_min or lower acknowledge_min"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("categories:\n  fier:\n    red: {acknowledge_min: 1, handle_min: 2}\n",
         ":1: categories: Value error, unknown category 'fier'; use one of fire, crowd"),
        ("categories:\n  fire:\n    purple: {acknowledge_min: 1, handle_min: 2}\n",
         ":3: categories.fire.purple.[key]: Input should be 'red', 'orange', 'yellow', 'blue' or 'green'"),
        ("categories:\n  fire:\n    red: {acknowledge_min: 0, handle_min: 2}\n",
         ":3: categories.fire.red.acknowledge_min: Input should be greater than 0 (value: 0)"),
        ("categories:\n  fire:\n    red: {acknowledge: 1, handle_min: 2}\n",
         ":3: categories.fire.red.acknowledge: Extra inputs are not permitted"),  # and acknowledge_min is missing
        ("default:\n  red: {acknowledge_min: 1, handle_min: 2}\n",
         ":1: default: Value error, no limits for orange, yellow, blue, green: the default needs all of"),
        ("catagories: {}\n", ":1: catagories: Extra inputs are not permitted"),
    ],
)
def test_invalid_files_are_rejected_naming_the_field(tmp_path: Path, text: str, expected: str) -> None:
    problems = _problems(tmp_path, text)
    assert any(expected in p for p in problems), problems
    assert all(p.startswith(str(tmp_path / "escalation.yaml")) for p in problems)
