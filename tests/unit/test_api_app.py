"""Building the app connects to nothing and exposes every route the console and clients use."""

from __future__ import annotations

from fastapi.testclient import TestClient

from api.app import create_app
from gridwatch.settings import DatabaseSettings, KafkaSettings, Settings

UNREACHABLE = Settings(database=DatabaseSettings(url="postgresql://nobody@127.0.0.1:1/none"),
                       kafka=KafkaSettings(bootstrap_servers="127.0.0.1:1"))


def test_create_app_needs_no_servers_and_lists_every_route() -> None:
    paths = set(create_app(UNREACHABLE).openapi()["paths"])
    assert paths == {
        "/v1/patrol-reports", "/v1/reports", "/v1/incidents", "/v1/incidents/{incident_id}",
        "/v1/incidents/{incident_id}/transitions", "/v1/alerts", "/v1/alerts/{alert_id}/snapshot", "/v1/devices",
        "/v1/devices/{device_id}",
        "/v1/grids", "/v1/grids/{grid_id}", "/v1/stats/hourly", "/v1/dead-letters", "/v1/feed", "/healthz", "/metrics",
    }


def test_patrol_report_body_is_documented_although_validated_by_hand() -> None:
    operation = create_app(UNREACHABLE).openapi()["paths"]["/v1/patrol-reports"]["post"]
    schema = operation["requestBody"]["content"]["application/json"]["schema"]
    assert set(schema["required"]) == {"category", "worker_id", "lat", "lon"}


def test_invalid_query_is_a_readable_422_counted_in_that_app_only() -> None:
    """Two apps in one process: with prometheus_client's global registry the second would not even build."""
    first, second = create_app(UNREACHABLE), create_app(UNREACHABLE)
    with TestClient(first) as one, TestClient(second) as two:
        response = one.get("/v1/feed", params={"after": -1})  # refused before any database access
        assert response.status_code == 422
        assert response.json()["message"] == "1 problem: query.after: Input should be greater than or equal to 0"
        counted = 'gridwatch_api_rejected_total{reason="greater_than_equal",route="/v1/feed"} 1.0'
        assert counted in one.get("/metrics").text
        assert "gridwatch_api_rejected_total{" not in two.get("/metrics").text
