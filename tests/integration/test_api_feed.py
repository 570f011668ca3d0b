"""The live feed over real HTTP (uvicorn): a change arrives as an event, and a reconnect with
Last-Event-ID resumes without losing what happened while disconnected."""

from __future__ import annotations

import json
from collections.abc import Iterator

import httpx
import pytest

from gridwatch.settings import Settings

from .test_api_support import insert_incident, live_server, sql

pytestmark = pytest.mark.integration
pytest_plugins = ("tests.integration.test_api_support",)  # fixtures: api_settings, client
Event = dict[str, str]


def events(response: httpx.Response) -> Iterator[Event]:
    """Parse a text/event-stream into {id?, event, data} dicts (comments and retry lines skipped)."""
    event: Event = {}
    for line in response.iter_lines():
        if not line:
            if "event" in event:
                yield event
            event = {}
        elif not line.startswith((":", "retry:")):
            field, _, value = line.partition(": ")
            event[field] = value


def next_event(stream: Iterator[Event], kind: str) -> Event:
    for event in stream:
        if event["event"] == kind:
            return event
    raise AssertionError(f"stream ended before a {kind!r} event")


def transition(base: str, incident_id: str, action: str) -> None:
    body = {"action": action, "actor": "d-007", "reason": "test", **({"assignee": "w-1"} if action == "assign" else {})}
    response = httpx.post(f"{base}/v1/incidents/{incident_id}/transitions", json=body, timeout=10)
    assert response.status_code == 200, response.text


def test_change_is_pushed_and_a_reconnect_resumes(api_settings: Settings) -> None:
    url = api_settings.database.url
    insert_incident(url, "i-1")
    insert_incident(url, "i-2")
    with live_server(api_settings) as base, httpx.Client(base_url=base, timeout=15) as http:
        with http.stream("GET", "/v1/feed") as response:
            assert response.headers["content-type"].startswith("text/event-stream")
            stream = events(response)
            ready = next_event(stream, "ready")
            assert json.loads(ready["data"]) == {"cursor": 0}

            transition(base, "i-1", "assign")
            pushed = next_event(stream, "incident")

        assert json.loads(pushed["data"])["id"] == "i-1"
        assert json.loads(pushed["data"])["status"] == "assigned"
        resume_from = pushed["id"]

        transition(base, "i-1", "start")  # while nobody listens
        transition(base, "i-2", "dismiss")
        with http.stream("GET", "/v1/feed", headers={"Last-Event-ID": resume_from}) as response:
            stream = events(response)
            assert next_event(stream, "ready")["id"] == resume_from
            first, second = next_event(stream, "incident"), next_event(stream, "incident")

    missed = {json.loads(e["data"])["id"]: json.loads(e["data"])["status"] for e in (first, second)}
    assert missed == {"i-1": "in_progress", "i-2": "dismissed"}
    assert "id" not in first and int(second["id"]) == sql(url, "SELECT max(seq) FROM incident_outbox")[0][0]


def test_feed_started_without_cursor_sends_only_new_changes(api_settings: Settings) -> None:
    url = api_settings.database.url
    insert_incident(url, "i-old")
    insert_incident(url, "i-new")
    sql(url, "INSERT INTO incident_outbox (incident_id, payload) VALUES ('i-old', '{}')")
    with live_server(api_settings) as base, httpx.Client(base_url=base, timeout=15) as http:
        with http.stream("GET", "/v1/feed") as response:
            stream = events(response)
            assert json.loads(next_event(stream, "ready")["data"]) == {"cursor": 1}
            transition(base, "i-new", "dismiss")
            assert json.loads(next_event(stream, "incident")["data"])["id"] == "i-new"
