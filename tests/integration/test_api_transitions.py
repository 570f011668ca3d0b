"""The closed loop on a real database: state machine, history, outbox, and row locking."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import psycopg
import pytest
from fastapi.testclient import TestClient

from gridwatch.contracts import Incident
from gridwatch.settings import Settings
from ingest.store import write_incidents

from .test_api_support import insert_incident, sql

pytestmark = pytest.mark.integration
pytest_plugins = ("tests.integration.test_api_support",)  # fixtures: api_settings, client


def step(client: TestClient, action: str, incident_id: str = "i-1", **extra: str):  # type: ignore[no-untyped-def]
    body = {"action": action, "actor": "d-007", "reason": f"{action} it", **extra}
    return client.post(f"/v1/incidents/{incident_id}/transitions", json=body)


def test_full_loop_writes_status_history_and_outbox(client: TestClient, api_settings: Settings) -> None:
    url = api_settings.database.url
    insert_incident(url, "i-1")

    for action, status in (("assign", "assigned"), ("start", "in_progress"), ("resolve", "resolved"),
                           ("close", "closed")):
        extra = {"assignee": "w-017"} if action == "assign" else {}
        response = step(client, action, **extra)
        assert response.status_code == 200, response.text
        assert response.json()["status"] == status

    assert sql(url, "SELECT status FROM incidents WHERE id = 'i-1'") == [("closed",)]
    assert sql(url, "SELECT seq, actor, action, status, reason FROM incident_history ORDER BY seq") == [
        (1, "engine", "raise", "open", "first alert"),
        (2, "d-007", "assign", "assigned", "assigned to w-017: assign it"),
        (3, "d-007", "start", "in_progress", "start it"),
        (4, "d-007", "resolve", "resolved", "resolve it"),
        (5, "d-007", "close", "closed", "close it"),
    ]
    outbox = sql(url, "SELECT incident_id, payload FROM incident_outbox ORDER BY seq")
    assert [row[0] for row in outbox] == ["i-1"] * 4
    last = Incident.model_validate(outbox[-1][1])  # the full contract incident, as Kafka will carry it
    assert last.status == "closed" and len(last.history) == 5 and last.alert_ids == ["a-i-1"]
    assert "allowed_actions" not in outbox[-1][1]
    assert 'gridwatch_api_incident_transitions_total{action="close"} 1.0' in client.get("/metrics").text


def test_invalid_transition_is_409_listing_allowed_actions_and_writes_nothing(client: TestClient,
                                                                              api_settings: Settings) -> None:
    url = api_settings.database.url
    insert_incident(url, "i-1", status="resolved")

    response = step(client, "start")

    assert response.status_code == 409
    assert response.json() == {
        "detail": "cannot start an incident that is resolved; allowed from resolved: close, reopen",
        "status": "resolved", "action": "start", "allowed_actions": ["close", "reopen"],
    }
    assert sql(url, "SELECT status FROM incidents") == [("resolved",)]
    assert sql(url, "SELECT count(*) FROM incident_history") == [(1,)]
    assert sql(url, "SELECT count(*) FROM incident_outbox") == [(0,)]


def test_dismiss_and_reopen(client: TestClient, api_settings: Settings) -> None:
    insert_incident(api_settings.database.url, "i-1")
    assert step(client, "dismiss").json()["allowed_actions"] == ["reopen"]
    assert step(client, "reopen").json()["status"] == "open"


def test_unknown_incident_is_404(client: TestClient, api_settings: Settings) -> None:
    response = step(client, "assign", incident_id="i-nope")
    assert response.status_code == 404 and response.json()["detail"] == "no incident with id 'i-nope'"


def test_missing_reason_is_422(client: TestClient, api_settings: Settings) -> None:
    insert_incident(api_settings.database.url, "i-1")
    response = client.post("/v1/incidents/i-1/transitions", json={"action": "assign", "actor": "d-007"})
    assert response.status_code == 422 and response.json()["message"] == "1 problem: reason: Field required"


def test_two_dispatchers_at_once_one_wins_the_other_gets_409(client: TestClient, api_settings: Settings) -> None:
    """SELECT ... FOR UPDATE: without it both could read "open" and both write history seq 2."""
    url = api_settings.database.url
    insert_incident(url, "i-1")

    with ThreadPoolExecutor(max_workers=8) as pool:
        codes = sorted(pool.map(lambda _: step(client, "dismiss").status_code, range(8)))

    assert codes == [200] + [409] * 7
    assert sql(url, "SELECT seq, action FROM incident_history ORDER BY seq") == [(1, "raise"), (2, "dismiss")]
    assert sql(url, "SELECT count(*) FROM incident_outbox") == [(1,)]


def test_engine_update_after_a_transition_keeps_the_dispatchers_status(client: TestClient,
                                                                        api_settings: Settings) -> None:
    """The ingest's upsert owns members, times and risk, never status or level
    (ingest.store.INCIDENT_OVERWRITTEN / INCIDENT_INSERT_ONLY)."""
    url = api_settings.database.url
    insert_incident(url, "i-1")
    step(client, "assign", assignee="w-017")
    stored = client.get("/v1/incidents/i-1").json()
    engine_history = [h for h in stored["history"] if h["actor"] == "engine"]
    engine_view = Incident.model_validate({**stored, "status": "open", "risk": "orange", "level": "street",
                                           "history": engine_history})  # the engine's stale view
    with psycopg.connect(url) as conn, conn.transaction(), conn.cursor() as cur:
        write_incidents(cur, [engine_view])

    after = client.get("/v1/incidents/i-1").json()
    assert (after["status"], after["risk"], after["level"]) == ("assigned", "orange", "grid")
    history = sql(url, "SELECT seq, actor, action FROM incident_history WHERE incident_id = 'i-1' ORDER BY seq")
    assert history == [(1, "engine", "raise"), (2, "d-007", "assign")]  # the engine's entries land once


def test_an_incident_merged_into_another_refuses_every_step_and_names_the_other(client: TestClient,
                                                                               api_settings: Settings) -> None:
    # A late, earlier alert can merge incident i-1 into i-2: the work goes on in i-2, and a step on
    # i-1 would change nothing a dispatcher sees.
    url = api_settings.database.url
    insert_incident(url, "i-1", status="assigned")
    insert_incident(url, "i-2", status="assigned")
    sql(url, "UPDATE incidents SET merged_into = 'i-2' WHERE id = 'i-1'")

    response = step(client, "start")

    assert response.status_code == 409
    assert response.json()["detail"] == "cannot start incident: it was merged into i-2; act on that one"
    assert response.json()["allowed_actions"] == []
    assert client.get("/v1/incidents/i-1").json()["allowed_actions"] == []
    assert sql(url, "SELECT id, status FROM incidents ORDER BY id") == [("i-1", "assigned"), ("i-2", "assigned")]
    assert sql(url, "SELECT count(*) FROM incident_outbox") == [(0,)]
    assert step(client, "start", incident_id="i-2").json()["status"] == "in_progress"


def test_a_nul_character_in_the_path_or_query_is_422_not_500(client: TestClient, api_settings: Settings) -> None:
    insert_incident(api_settings.database.url, "i-1")
    for path in ("/v1/incidents/i%001", "/v1/incidents?category=fi%00re"):
        response = client.get(path)
        assert response.status_code == 422, (path, response.text)
        assert response.json()["detail"].startswith("the request holds a value the database cannot take")
