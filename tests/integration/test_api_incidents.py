"""Listing, filtering and reading incidents the way the ingest stored them."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from fastapi.testclient import TestClient

from gridwatch.contracts import Incident
from gridwatch.settings import Settings

from .test_api_support import insert_incident, sql

pytestmark = pytest.mark.integration
pytest_plugins = ("tests.integration.test_api_support",)  # fixtures: api_settings, client


@pytest.fixture
def seeded(api_settings: Settings) -> str:
    url = api_settings.database.url
    insert_incident(url, "i-old-fire", minutes=0, grid_path=("G1", "C1", "S1", "D1"))
    insert_incident(url, "i-crowd", category="crowd", risk="orange", minutes=10, grid_path=("G2", "C1", "S1", "D1"))
    insert_incident(url, "i-closed", status="closed", risk="green", minutes=20, grid_path=("G3", "C2", "S1", "D1"))
    insert_incident(url, "i-outside", risk="yellow", minutes=30, grid_path=())
    return url


def ids(response) -> list[str]:  # type: ignore[no-untyped-def]
    assert response.status_code == 200, response.text
    return [item["id"] for item in response.json()["items"]]


def test_list_is_newest_first_with_total(client: TestClient, seeded: str) -> None:
    response = client.get("/v1/incidents", params={"limit": 2})
    assert ids(response) == ["i-outside", "i-closed"]
    assert response.json()["total"] == 4
    assert ids(client.get("/v1/incidents", params={"limit": 2, "offset": 2})) == ["i-crowd", "i-old-fire"]


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"status": ["open"]}, ["i-outside", "i-crowd", "i-old-fire"]),
        ({"status": ["closed", "dismissed"]}, ["i-closed"]),
        ({"category": "crowd"}, ["i-crowd"]),
        ({"risk": ["red", "orange"]}, ["i-crowd", "i-old-fire"]),
        ({"grid_id": "C1"}, ["i-crowd", "i-old-fire"]),  # a community: incidents in its grids
        ({"grid_id": "G3"}, ["i-closed"]),
        ({"grid_id": "D1"}, ["i-closed", "i-crowd", "i-old-fire"]),
        ({"since": "2026-09-09T06:10:00Z", "until": "2026-09-09T06:30:00Z"}, ["i-closed", "i-crowd"]),
        ({"category": "parking"}, []),
    ],
)
def test_filters(client: TestClient, seeded: str, params: dict[str, object], expected: list[str]) -> None:
    response = client.get("/v1/incidents", params=params)
    assert ids(response) == expected
    assert response.json()["total"] == len(expected)


def test_bad_filter_is_a_422_naming_it(client: TestClient, seeded: str) -> None:
    response = client.get("/v1/incidents", params={"status": "escalated"})
    assert response.status_code == 422
    assert response.json()["message"].startswith("1 problem: query.status.0: Input should be 'open'")


def test_detail_is_the_full_contract_incident(client: TestClient, api_settings: Settings) -> None:
    url = api_settings.database.url
    members: list[dict[str, Any]] = [{"id": "a-1", "kind": "alert", "rule": "first", "distance_m": None, "gap_s": None},
               {"id": "r-1", "kind": "report", "rule": "within 50 m and 10 min", "distance_m": 12.5, "gap_s": 40.0}]
    insert_incident(url, "i-1", members=members)
    sql(url, "INSERT INTO incident_history VALUES ('i-1', 2, %s, 'engine', 'merge', 'open', 'report joined')",
        (datetime(2026, 9, 9, 6, 1, tzinfo=timezone.utc),))

    response = client.get("/v1/incidents/i-1")

    assert response.status_code == 200
    body = response.json()
    incident = Incident.model_validate(body)
    assert (incident.alert_ids, incident.report_ids) == (["a-1"], ["r-1"])
    assert [m.model_dump() for m in incident.members] == members
    assert [(h.action, h.reason) for h in incident.history] == [("raise", "first alert"), ("merge", "report joined")]
    assert body["history"][1]["at"] == "2026-09-09T06:01:00.000Z"
    assert body["grid_path"] == ["G1", "C1", "S1", "D1"]
    assert body["allowed_actions"] == ["assign", "dismiss"]


def test_unknown_incident_is_404_naming_it(client: TestClient, seeded: str) -> None:
    response = client.get("/v1/incidents/i-nope")
    assert response.status_code == 404
    assert response.json() == {"detail": "no incident with id 'i-nope'"}


# -- escalation: level, risk and the next deadline --------------------------------------------------

def _created(url: str, incident_id: str) -> datetime:
    return sql(url, "SELECT created_at FROM incidents WHERE id = %s", (incident_id,))[0][0]


def _at(body: dict[str, Any], field: str = "escalates_at") -> datetime | None:
    value = body[field]
    return None if value is None else datetime.fromisoformat(value.replace("Z", "+00:00"))


def test_escalates_at_follows_the_limits_status_and_level(client: TestClient, seeded: str) -> None:
    url = seeded
    sql(url, "UPDATE incidents SET level = 'community', escalated_at = created_at + interval '2 minutes' "
             "WHERE id = 'i-crowd'")
    sql(url, "UPDATE incidents SET level = 'district' WHERE id = 'i-outside'")
    items = {i["id"]: i for i in client.get("/v1/incidents").json()["items"]}

    # fire red, open: acknowledged within 5 minutes of being stored (a millisecond on the wire)
    fire = _at(items["i-old-fire"])
    assert fire is not None and abs(fire - (_created(url, "i-old-fire") + timedelta(minutes=5))) < timedelta(milliseconds=1)
    # crowd orange, escalated to community two minutes in: 5 more minutes from the escalation
    crowd = _at(items["i-crowd"])
    assert crowd is not None and abs(crowd - (_created(url, "i-crowd") + timedelta(minutes=7))) < timedelta(milliseconds=1)
    assert (items["i-crowd"]["level"], items["i-crowd"]["risk"]) == ("community", "orange")
    assert _at(items["i-crowd"], "escalated_at") is not None
    assert items["i-closed"]["escalates_at"] is None  # closed: never
    assert items["i-outside"]["escalates_at"] is None  # district: the top
    assert "created_at" not in items["i-old-fire"] and "reopened_at" not in items["i-old-fire"]


@pytest.mark.parametrize(("levels", "expected"), [(["community"], ["i-crowd"]),
                                                  (["grid", "district"], ["i-outside", "i-closed", "i-old-fire"])])
def test_filter_by_level(client: TestClient, seeded: str, levels: list[str], expected: list[str]) -> None:
    sql(seeded, "UPDATE incidents SET level = 'community' WHERE id = 'i-crowd'")
    sql(seeded, "UPDATE incidents SET level = 'district' WHERE id = 'i-outside'")
    response = client.get("/v1/incidents", params={"level": levels})
    assert ids(response) == expected and response.json()["total"] == len(expected)
    assert client.get("/v1/incidents", params={"level": "province"}).status_code == 422


def test_acknowledging_moves_escalates_at_to_the_handle_limit(client: TestClient, seeded: str) -> None:
    url = seeded
    detail = client.get("/v1/incidents/i-old-fire").json()
    assert _at(detail) is not None and detail["level"] == "grid"

    body = {"action": "assign", "actor": "d-007", "reason": "on it", "assignee": "w-017"}
    assigned = client.post("/v1/incidents/i-old-fire/transitions", json=body).json()

    handle = _at(assigned)
    assert handle is not None and abs(handle - (_created(url, "i-old-fire") + timedelta(minutes=30))) < timedelta(milliseconds=1)
    payload = sql(url, "SELECT payload FROM incident_outbox WHERE incident_id = 'i-old-fire' ORDER BY seq DESC LIMIT 1")
    assert "escalates_at" not in payload[0][0] and payload[0][0]["level"] == "grid"  # Kafka keeps the contract
