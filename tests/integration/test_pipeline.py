"""End to end on real Mosquitto, Kafka and PostgreSQL: edge agent, ingest and API together."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from gridwatch.settings import Settings

from ..unit.conftest import SAMPLE_GRIDS
from .helpers import mqtt_publish, wait_until
from .pipeline import running_agent, running_ingest, write_site

Z2M_PRESS = b'{"action": "single", "battery": 90, "linkquality": 120}'


@pytest.fixture
def settings(settings_factory) -> Settings:
    return settings_factory(ingest={"grid_reload_s": 0.5})


def incidents(api: TestClient, **params: Any) -> list[dict[str, Any]]:
    response = api.get("/v1/incidents", params=params)
    assert response.status_code == 200, response.text
    return response.json()["items"]


def test_button_press_on_mqtt_becomes_an_incident_in_the_api(settings: Settings, tmp_path: Path) -> None:
    site, site_path = write_site(tmp_path)
    topic = site.buttons[0].topic
    with running_ingest(settings, SAMPLE_GRIDS), running_agent(settings, site, site_path), \
            TestClient(create_app(settings)) as api:
        mqtt_publish(settings.mqtt.port, [(topic, Z2M_PRESS)])
        (incident,) = wait_until(lambda: incidents(api, category="alarm"), what="an alarm incident")
        detail = api.get(f"/v1/incidents/{incident['id']}").json()
        assert detail["grid_id"] == "YZ-S1-C2-G3-M1" and detail["risk"] == "orange" and detail["status"] == "open"
        assert len(detail["alert_ids"]) == 1 and detail["members"][0]["rule"] == "first"
        assert detail["history"][0]["actor"] == "engine"

        # A malformed payload is rejected, kept and shown; the pipeline keeps going.
        mqtt_publish(settings.mqtt.port, [(topic, b"{not json"), (topic, Z2M_PRESS)])
        letters = wait_until(lambda: api.get("/v1/dead-letters", params={"source": "mqtt"}).json()["items"],
                             what="the dead letter in the API")
        assert letters[0]["payload"] == "{not json" and "JSON" in letters[0]["reason"]
        wait_until(lambda: len(api.get(f"/v1/incidents/{incident['id']}").json()["alert_ids"]) == 2,
                   what="the second press joining the same incident")
        assert len(incidents(api, category="alarm")) == 1


def test_patrol_report_posted_to_the_api_becomes_an_incident(settings: Settings) -> None:
    report = {"category": "hazard", "worker_id": "w-017", "lat": 37.8521, "lon": 112.5612,
              "text": "loose signal receiver hanging from the wall"}
    with running_ingest(settings, SAMPLE_GRIDS), TestClient(create_app(settings)) as api:
        accepted = api.post("/v1/patrol-reports", json=report)
        assert accepted.status_code == 202, accepted.text
        report_id = accepted.json()["id"]
        (incident,) = wait_until(lambda: incidents(api, category="hazard"), what="a hazard incident")
        assert incident["report_ids"] == [report_id]
        assert incident["grid_id"] == "YZ-S2-C1-G2-M1"

        bad = api.post("/v1/patrol-reports", json={**report, "lat": 537.8})
        assert bad.status_code == 422 and "lat" in bad.text
        wait_until(lambda: api.get("/v1/dead-letters", params={"source": "api"}).json()["items"],
                   what="the rejected report in the dead letters")
