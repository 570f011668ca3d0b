"""Patrol reports through the API onto real Kafka: accepted ones on the reports topic keyed by
worker, rejected ones answered 422 and kept on the deadletter topic, Kafka down answered 503 fast."""

from __future__ import annotations

import json
import time

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from gridwatch.contracts import PatrolReport
from gridwatch.deadletter import DeadLetter
from gridwatch.settings import KafkaSettings, Settings

from .test_api_support import FAST, consume, insert_grid

pytestmark = pytest.mark.integration
pytest_plugins = ("tests.integration.test_api_support",)  # fixtures: api_settings, client

BODY = {"category": "hazard", "worker_id": "w-017", "lat": 37.86, "lon": 112.55,
        "reported_at": "2026-09-09T07:15:00Z", "text": "信号接收器松动 loose receiver", "accuracy_m": 6.0}


def test_report_lands_on_reports_topic_keyed_by_worker(client: TestClient, api_settings: Settings) -> None:
    response = client.post("/v1/patrol-reports", json=BODY)

    assert response.status_code == 202, response.text
    accepted = response.json()
    [record] = consume(api_settings.kafka.bootstrap_servers, api_settings.kafka.topics.reports, expected=1)
    assert record.key == b"w-017"
    assert (record.partition, record.offset) == (accepted["partition"], accepted["offset"])
    sent = PatrolReport.model_validate_json(record.value)
    assert sent.id == accepted["id"] and sent.id.startswith("r-")
    assert json.loads(record.value) == {**BODY, "kind": "report", "id": accepted["id"], "photos": [],
                                        "reported_at": "2026-09-09T07:15:00.000Z"}
    assert "gridwatch_api_reports_accepted_total 1.0" in client.get("/metrics").text


def test_malformed_report_is_refused_naming_fields_and_dead_lettered(client: TestClient,
                                                                     api_settings: Settings) -> None:
    raw = json.dumps({**BODY, "lat": 123.4, "reported_at": "2026-09-09T07:15:00"})

    response = client.post("/v1/patrol-reports", content=raw, headers={"Content-Type": "application/json"})

    assert response.status_code == 422
    message = response.json()["message"]
    assert message.startswith("2 problems: lat: Input should be less than or equal to 90; reported_at: ")
    assert "time zone" in message
    [record] = consume(api_settings.kafka.bootstrap_servers, api_settings.kafka.topics.deadletter, expected=1)
    letter = DeadLetter.from_json(record.value)
    assert (letter.source, letter.payload, letter.key, record.key) == ("api", raw, "w-017", b"w-017")
    assert "lat" in letter.reason and "reported_at" in letter.reason
    assert letter.context == {"route": "POST /v1/patrol-reports"}
    assert consume(api_settings.kafka.bootstrap_servers, api_settings.kafka.topics.reports, expected=1,
                   timeout_s=1) == []
    metrics = client.get("/metrics").text
    assert 'gridwatch_api_rejected_total{reason="less_than_equal",route="/v1/patrol-reports"} 1.0' in metrics


def test_a_grid_the_loaded_map_lacks_is_refused_and_a_known_one_accepted(client: TestClient,
                                                                         api_settings: Settings) -> None:
    without_map = client.post("/v1/patrol-reports", json={**BODY, "grid_id": "G-9"})  # nothing to check against
    insert_grid(api_settings.database.url, "D1", "district", None)
    insert_grid(api_settings.database.url, "G1", "grid", "D1")

    unknown = client.post("/v1/patrol-reports", json={**BODY, "grid_id": "G-9"})
    known = client.post("/v1/patrol-reports", json={**BODY, "grid_id": "G1"})

    assert (without_map.status_code, unknown.status_code, known.status_code) == (202, 422, 202)
    assert unknown.json()["message"].startswith("1 problem: grid_id: grid 'G-9' is not in the loaded grid map")
    [record] = consume(api_settings.kafka.bootstrap_servers, api_settings.kafka.topics.deadletter, expected=1)
    letter = DeadLetter.from_json(record.value)
    assert letter.key == "w-017" and letter.reason.startswith("grid_id: grid 'G-9' is not in the loaded grid map")
    sent = consume(api_settings.kafka.bootstrap_servers, api_settings.kafka.topics.reports, expected=2)
    assert [PatrolReport.model_validate_json(r.value).grid_id for r in sent] == ["G-9", "G1"]
    assert 'gridwatch_api_rejected_total{reason="unknown_grid",route="/v1/patrol-reports"} 1.0' in client.get("/metrics").text


def test_body_that_is_not_json_is_kept_verbatim(client: TestClient, api_settings: Settings) -> None:
    response = client.post("/v1/patrol-reports", content=b"{worker: w-1", headers={"Content-Type": "application/json"})

    assert response.status_code == 422
    assert response.json()["message"].startswith("1 problem: body: Invalid JSON")
    [record] = consume(api_settings.kafka.bootstrap_servers, api_settings.kafka.topics.deadletter, expected=1)
    assert DeadLetter.from_json(record.value).payload == "{worker: w-1"
    assert record.key is None


def test_kafka_down_answers_503_within_the_bound(api_settings: Settings) -> None:
    down = api_settings.model_copy(update={"kafka": KafkaSettings(bootstrap_servers="127.0.0.1:9")})
    with TestClient(create_app(down, FAST)) as client:
        started = time.monotonic()
        response = client.post("/v1/patrol-reports", json=BODY)
        elapsed = time.monotonic() - started
        again = client.post("/v1/patrol-reports", json=BODY)
        health = client.get("/healthz").json()

    assert response.status_code == 503 and "unreachable" in response.json()["detail"]
    assert response.headers["Retry-After"] == "5"
    assert elapsed < FAST.publish_timeout_s + 2
    assert again.status_code == 503
    assert health["ok"] is True  # reads still work without Kafka
    assert health["kafka"]["ok"] is False and health["kafka"]["status"] == "unavailable"
