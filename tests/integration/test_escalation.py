"""Escalation on a real PostgreSQL: the runner's one query, its transaction (level, risk, history,
outbox), the acknowledge clock, reopening, row locks, and the engine's later upsert keeping the
level and the escalated risk. Incidents are written by the engine and the ingest's own store code;
``now`` is injected, so nothing sleeps."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest
from prometheus_client import CollectorRegistry
from psycopg.rows import dict_row

from api.schemas import IncidentTransition
from api.store.incidents import apply_transition
from gridwatch.contracts import Incident, Observation
from ingest import store
from ingest.engine import EngineConfig, IncidentEngine
from ingest.escalation import EscalationConfig, Limit
from ingest.escalator import DUE_SQL, EscalationMetrics, EscalationRunner, _limit_rows, run_escalations
from ingest.grids import GridIndex

from ..unit.conftest import SAMPLE_GRIDS
from ..unit.factories import alert_factory, report_factory
from .helpers import produce, read_topic, wait_until
from .pipeline import running_ingest
from .test_api_support import sql

pytestmark = pytest.mark.integration

# Tiny limits for every category and risk: acknowledge within 1 minute, handle within 10.
TINY = EscalationConfig(default={r: Limit(acknowledge_min=1, handle_min=10)
                                 for r in ("red", "orange", "yellow", "blue", "green")}, categories={})
MINUTE = timedelta(minutes=1)


@pytest.fixture(scope="module")
def grid_index() -> GridIndex:
    from gridwatch.gridmap import load_grid_map

    return GridIndex(load_grid_map(SAMPLE_GRIDS))


@pytest.fixture
def conn(database_url: str) -> Any:
    with psycopg.connect(database_url, row_factory=dict_row) as connection:
        yield connection


def ingest(url: str, engine: IncidentEngine, observations: list[Observation]) -> list[Incident]:
    """What the ingest does with a batch: store observations, run the engine, write its result."""
    with psycopg.connect(url) as connection, connection.transaction(), connection.cursor() as cur:
        grids = [engine.grids.assign(o.lat, o.lon) for o in observations]
        store.insert_observations(cur, zip(observations, grids))
        result = engine.process_batch(observations, grids)
        store.write_batch_result(cur, result)
    return list(result.touched.values())


def raised_at(url: str, incident_id: str) -> datetime:
    return sql(url, "SELECT created_at FROM incidents WHERE id = %s", (incident_id,))[0][0]


def row(url: str, incident_id: str) -> tuple[Any, ...]:
    return sql(url, "SELECT status, level, risk FROM incidents WHERE id = %s", (incident_id,))[0]


def history(url: str, incident_id: str) -> list[tuple[Any, ...]]:
    return sql(url, "SELECT actor, action, status, reason FROM incident_history WHERE incident_id = %s ORDER BY seq",
               (incident_id,))


def outbox(url: str, incident_id: str) -> list[dict[str, Any]]:
    return [r[0] for r in sql(url, "SELECT payload FROM incident_outbox WHERE incident_id = %s ORDER BY seq",
                              (incident_id,))]


def assign(url: str, incident_id: str) -> None:
    with psycopg.connect(url, row_factory=dict_row, autocommit=True) as api_conn:
        apply_transition(api_conn, incident_id, IncidentTransition(action="assign", actor="d-007", reason="on it",
                                                                   assignee="w-017"), TINY)


def transition(url: str, incident_id: str, action: str) -> None:
    with psycopg.connect(url, row_factory=dict_row, autocommit=True) as api_conn:
        apply_transition(api_conn, incident_id, IncidentTransition(action=action, actor="d-007", reason=action), TINY)  # type: ignore[arg-type]


def two_parking_incidents(url: str, grid_index: GridIndex) -> tuple[IncidentEngine, str, str]:
    """Two cars 100 m apart, each confirmed by one sure alert: (engine, the cam-1 one, the cam-2 one)."""
    engine = IncidentEngine(grid_index, EngineConfig(), keep_finished=False)
    here = alert_factory("parking", type="illegal_parking", confidence=0.97, attributes={"track_id": "cam-1:1"})
    there = alert_factory("parking", type="illegal_parking", confidence=0.97, dlat=0.001, device_id="cam-2")
    by_member = {i.alert_ids[0]: i.id for i in ingest(url, engine, [here, there])}
    return engine, by_member[here.id], by_member[there.id]


def test_unacknowledged_incident_escalates_with_history_and_outbox_acknowledged_one_does_not(
        database_url: str, conn: psycopg.Connection, grid_index: GridIndex) -> None:
    url = database_url
    _, waiting, acknowledged = two_parking_incidents(url, grid_index)
    assign(url, acknowledged)
    now = max(raised_at(url, waiting), raised_at(url, acknowledged)) + MINUTE
    published_before = len(outbox(url, waiting))

    done = run_escalations(conn, TINY, now)

    assert [e.incident_id for e in done] == [waiting]
    assert row(url, waiting) == ("open", "community", "yellow")  # parking blue, one colour up
    assert row(url, acknowledged) == ("assigned", "grid", "blue")
    assert sql(url, "SELECT escalated_at FROM incidents WHERE id = %s", (waiting,)) == [(now,)]
    assert history(url, waiting)[-1] == (
        "system:escalation", "escalate", "open",
        "not acknowledged within 1 min (parking, blue): grid → community, risk blue → yellow")
    published = outbox(url, waiting)
    assert len(published) == published_before + 1
    incident = Incident.model_validate(published[-1])
    assert (incident.level, incident.risk, incident.status) == ("community", "yellow", "open")
    assert incident.history[-1].actor == "system:escalation" and incident.alert_ids
    # the clock restarted at the step: nothing more at the same instant
    assert run_escalations(conn, TINY, now) == []


def test_one_level_per_round_then_the_handle_clock_of_the_acknowledged_one(
        database_url: str, conn: psycopg.Connection, grid_index: GridIndex) -> None:
    url = database_url
    _, waiting, acknowledged = two_parking_incidents(url, grid_index)
    assign(url, acknowledged)
    start = max(raised_at(url, waiting), raised_at(url, acknowledged))

    late = start + timedelta(hours=5)  # far past every limit: still one level per round
    assert {e.incident_id: e.step.to_level for e in run_escalations(conn, TINY, late)} == {
        waiting: "community", acknowledged: "community"}
    assert history(url, acknowledged)[-1][3].startswith("not handled within 10 min (parking, blue)")
    assert [e.incident_id for e in run_escalations(conn, TINY, late + MINUTE)] == [waiting]  # open: 1 min
    assert row(url, waiting) == ("open", "street", "orange")
    assert row(url, acknowledged) == ("assigned", "community", "yellow")  # assigned: 10 min at its level
    run_escalations(conn, TINY, late + 2 * MINUTE)
    assert run_escalations(conn, TINY, late + 3 * MINUTE) == []  # district is the top
    assert row(url, waiting) == ("open", "district", "red")


def test_later_engine_upsert_keeps_level_and_escalated_risk(
        database_url: str, conn: psycopg.Connection, grid_index: GridIndex) -> None:
    url = database_url
    engine, waiting, _ = two_parking_incidents(url, grid_index)
    run_escalations(conn, TINY, raised_at(url, waiting) + MINUTE)
    run_escalations(conn, TINY, raised_at(url, waiting) + 3 * MINUTE)
    assert row(url, waiting) == ("open", "street", "orange")

    # the same car again, now parked over two hours: the engine's own risk goes blue -> yellow
    rendered = ingest(url, engine, [alert_factory("parking", type="illegal_parking", confidence=0.97,
                                                  minutes=5, attributes={"track_id": "cam-1:1", "dwell_s": 7300})])

    assert [(i.id, i.level, i.risk) for i in rendered] == [(waiting, "grid", "yellow")]  # the engine knows no levels
    assert row(url, waiting) == ("open", "street", "red")  # yellow raised two levels
    published = Incident.model_validate(outbox(url, waiting)[-1])
    assert (published.level, published.risk, len(published.alert_ids)) == ("street", "red", 2)


def test_a_merge_keeps_the_escalation_of_the_incident_merged_away(
        database_url: str, conn: psycopg.Connection, grid_index: GridIndex) -> None:
    url = database_url
    engine, waiting, _ = two_parking_incidents(url, grid_index)
    escalated_at = raised_at(url, waiting) + MINUTE
    run_escalations(conn, TINY, escalated_at)
    assert row(url, waiting) == ("open", "community", "yellow")

    # the same car seen earlier, reported late: the incident is renamed after its first member
    rendered = ingest(url, engine, [alert_factory("parking", type="illegal_parking", confidence=0.97, minutes=-5,
                                                  attributes={"track_id": "cam-1:1"})])

    (renamed,) = [i.id for i in rendered]
    assert renamed != waiting
    assert sql(url, "SELECT merged_into FROM incidents WHERE id = %s", (waiting,)) == [(renamed,)]
    assert row(url, renamed) == ("open", "community", "yellow")
    assert sql(url, "SELECT escalated_at FROM incidents WHERE id = %s", (renamed,)) == [(escalated_at,)]
    published = Incident.model_validate(outbox(url, renamed)[-1])
    assert (published.level, published.risk, len(published.alert_ids)) == ("community", "yellow", 2)
    assert history(url, renamed)[-1][3] == f"took over {waiting}: the same event; kept its community level"
    # the next escalation starts from the level taken over; the merged-away incident is left alone
    stepped = {e.incident_id: e.step.to_level for e in run_escalations(conn, TINY, escalated_at + MINUTE)}
    assert stepped[renamed] == "street" and waiting not in stepped


def test_a_merge_keeps_the_raise_time_and_the_dispatchers_history_of_the_incident_merged_away(
        database_url: str, conn: psycopg.Connection, grid_index: GridIndex) -> None:
    url = database_url
    engine, waiting, _ = two_parking_incidents(url, grid_index)
    sql(url, "UPDATE incidents SET created_at = created_at - interval '30 minutes' WHERE id = %s", (waiting,))
    raised = raised_at(url, waiting)
    assign(url, waiting)
    engine.sync_status({waiting: "assigned"})  # as the ingest does before each batch

    rendered = ingest(url, engine, [alert_factory("parking", type="illegal_parking", confidence=0.97, minutes=-5,
                                                  attributes={"track_id": "cam-1:1"})])

    (renamed,) = [i.id for i in rendered]
    assert raised_at(url, renamed) == raised, "the escalation clocks run from the first raise, not the merge"
    assert row(url, renamed)[0] == "assigned"
    entries = history(url, renamed)
    assert ("d-007", "assign", "assigned", f"assigned to w-017: on it (on {waiting}, before the merge)") in entries
    assert entries[-1][3] == f"took over {waiting}: the same event"
    published = Incident.model_validate(outbox(url, renamed)[-1])
    assert any(h.actor == "d-007" and h.action == "assign" for h in published.history)
    # acknowledged (assigned) 30 minutes ago: the 10-minute handle limit has passed, counted from the raise
    stepped = {e.incident_id for e in run_escalations(conn, TINY, raised + 11 * MINUTE)}
    assert renamed in stepped


def test_new_evidence_that_does_not_raise_risk_leaves_the_escalated_risk(
        database_url: str, conn: psycopg.Connection, grid_index: GridIndex) -> None:
    url = database_url
    engine, waiting, _ = two_parking_incidents(url, grid_index)
    run_escalations(conn, TINY, raised_at(url, waiting) + MINUTE)

    ingest(url, engine, [report_factory("parking", minutes=3)])

    assert row(url, waiting) == ("open", "community", "yellow")


def test_reopening_restarts_the_clock_and_resolved_never_escalates(
        database_url: str, conn: psycopg.Connection, grid_index: GridIndex) -> None:
    url = database_url
    _, incident_id, _ = two_parking_incidents(url, grid_index)
    for action in ("assign", "start", "resolve"):
        transition(url, incident_id, action) if action != "assign" else assign(url, incident_id)
    sql(url, "UPDATE incidents SET created_at = created_at - interval '1 day' WHERE id = %s", (incident_id,))
    now = raised_at(url, incident_id) + timedelta(days=2)
    assert all(e.incident_id != incident_id for e in run_escalations(conn, TINY, now))

    transition(url, incident_id, "reopen")  # the trigger stamps reopened_at with the database's clock
    reopened = sql(url, "SELECT reopened_at FROM incidents WHERE id = %s", (incident_id,))[0][0]
    assert reopened is not None and reopened > raised_at(url, incident_id)
    assert all(e.incident_id != incident_id for e in run_escalations(conn, TINY, reopened + MINUTE / 2))
    assert [e.incident_id for e in run_escalations(conn, TINY, reopened + MINUTE)
            if e.incident_id == incident_id] == [incident_id]


def test_terminal_merged_and_district_incidents_are_not_selected(
        database_url: str, conn: psycopg.Connection, grid_index: GridIndex) -> None:
    url = database_url
    _, a, b = two_parking_incidents(url, grid_index)
    transition(url, a, "dismiss")
    sql(url, "UPDATE incidents SET level = 'district' WHERE id = %s", (b,))

    assert run_escalations(conn, TINY, raised_at(url, a) + timedelta(days=1)) == []


def test_due_query_uses_the_escalation_index(database_url: str, conn: psycopg.Connection) -> None:
    now = datetime.now().astimezone()
    with conn.transaction():
        conn.execute("SET LOCAL enable_seqscan = off")
        plan = conn.execute("EXPLAIN " + DUE_SQL, {**_limit_rows(TINY), "now": now, "batch_max": 500,
                                                  "started_before": now - TINY.shortest}).fetchall()
    text = "\n".join(r["QUERY PLAN"] for r in plan)
    assert "incidents_escalation_idx" in text, text


def test_an_incident_locked_by_a_dispatcher_is_left_for_the_next_round(
        database_url: str, conn: psycopg.Connection, grid_index: GridIndex) -> None:
    url = database_url
    _, waiting, other = two_parking_incidents(url, grid_index)
    now = raised_at(url, other) + MINUTE
    with psycopg.connect(url) as dispatcher, dispatcher.transaction():
        dispatcher.execute("SELECT 1 FROM incidents WHERE id = %s FOR UPDATE", (waiting,))
        assert [e.incident_id for e in run_escalations(conn, TINY, now)] == [other]
    assert [e.incident_id for e in run_escalations(conn, TINY, now)] == [waiting]


def test_runner_counts_escalations_and_survives_a_database_outage(
        database_url: str, grid_index: GridIndex) -> None:
    url = database_url
    _, waiting, other = two_parking_incidents(url, grid_index)
    registry = CollectorRegistry()
    ticks = iter([0.0, 5.0, 20.0])
    runner = EscalationRunner(url, TINY, EscalationMetrics.create(registry), every_s=15, monotonic=lambda: next(ticks))
    try:
        done = runner.run(now=raised_at(url, other) + MINUTE)
        assert len(done) == 2
        assert registry.get_sample_value("gridwatch_ingest_escalations_total",
                                         {"level": "community", "category": "parking"}) == 2.0
        assert runner.maybe_run() == []  # t=0: runs (database clock: nothing due yet)
        runner.database_url = "postgresql://nobody@127.0.0.1:1/none"
        runner.close()
        assert runner.maybe_run() == []  # t=5: not due, does not even connect
        assert registry.get_sample_value("gridwatch_ingest_escalation_failures_total") == 0.0
        assert runner.maybe_run() == []  # t=20: due, cannot connect: counted, not raised
        assert registry.get_sample_value("gridwatch_ingest_escalation_failures_total") == 1.0
    finally:
        runner.close()


def test_live_ingest_escalates_an_unanswered_alarm_and_publishes_each_step(
        settings_factory: Any, tmp_path: Path) -> None:
    limits = tmp_path / "escalation.yaml"
    limits.write_text("categories:\n  alarm:\n    orange: {acknowledge_min: 0.01, handle_min: 1}\n"
                      "    red: {acknowledge_min: 0.01, handle_min: 1}\n")  # 0.6 s to answer
    settings = settings_factory(escalation_file=str(limits), ingest={"escalation_every_s": 0.2})
    press = alert_factory("alarm", type="alarm_button", confidence=1.0)

    with running_ingest(settings, SAMPLE_GRIDS):
        produce(settings, settings.kafka.topics.alerts, [(press.device_id, press.to_json())])

        def levels() -> list[tuple[str, str]] | None:
            records = [json.loads(r.value) for r in read_topic(settings, settings.kafka.topics.incidents)]
            seen = [(p["level"], p["risk"]) for p in records]
            return seen if seen and seen[-1][0] == "district" else None

        published = wait_until(levels, what="the alarm to reach district on gridwatch.incidents")

    assert published == [("grid", "orange"), ("community", "red"), ("street", "red"), ("district", "red")]
    url = settings.database.url
    steps = sql(url, "SELECT actor, reason FROM incident_history WHERE action = 'escalate' ORDER BY seq")
    assert [actor for actor, _ in steps] == ["system:escalation"] * 3
    assert steps[0][1] == "not acknowledged within 0.01 min (alarm, orange): grid → community, risk orange → red"


def test_a_round_takes_the_longest_waiting_first_up_to_its_cap_and_a_full_round_goes_on_at_once(
        database_url: str, conn: psycopg.Connection, grid_index: GridIndex) -> None:
    url = database_url
    _, newer, older = two_parking_incidents(url, grid_index)
    sql(url, "UPDATE incidents SET created_at = now() - interval '2 hours' WHERE id = %s", (older,))
    sql(url, "UPDATE incidents SET created_at = now() - interval '1 hour' WHERE id = %s", (newer,))
    now = raised_at(url, newer) + MINUTE
    with conn.transaction(force_rollback=True):
        assert [e.incident_id for e in run_escalations(conn, TINY, now, batch_max=1)] == [older]

    ticks = iter([0.0, 1.0, 2.0, 3.0])
    runner = EscalationRunner(url, TINY, EscalationMetrics.create(CollectorRegistry()), every_s=15, batch_max=1,
                              monotonic=lambda: next(ticks))
    try:
        assert [e.incident_id for e in runner.maybe_run()] == [older]  # full: the next pass goes on
        assert [e.incident_id for e in runner.maybe_run()] == [newer]  # full again
        assert runner.maybe_run() == []  # both restarted their clocks at community: nothing due
        assert runner.maybe_run() == []  # and now the period applies (t=3 < 2 + 15)
    finally:
        runner.close()
    assert row(url, older)[1] == row(url, newer)[1] == "community"
