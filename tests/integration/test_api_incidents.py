"""Listing, filtering and reading incidents the way the ingest stored them."""

from __future__ import annotations

from datetime import datetime, timezone
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
