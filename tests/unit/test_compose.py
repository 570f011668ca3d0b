"""docker-compose.yml cannot run here (no Docker engine): check it stays valid and in step with the code."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from gridwatch.cli import build_parser
from gridwatch.servers.kafka import KAFKA_VERSION
from gridwatch.settings import Settings

REPO = Path(__file__).resolve().parents[2]
COMPOSE = yaml.safe_load((REPO / "docker-compose.yml").read_text())
SERVICES: dict[str, Any] = COMPOSE["services"]
GRIDWATCH = [name for name, s in SERVICES.items() if s.get("image", "").startswith("gridwatch")]


def _environment(service: dict[str, Any]) -> dict[str, str]:
    env = {k: str(v) for k, v in service.get("environment", {}).items()}
    return {k: re.sub(r"\$\{[^}]+\}", "secret-from-env", v) for k, v in env.items()}


def test_the_production_servers_match_what_up_and_the_tests_run() -> None:
    assert SERVICES["kafka"]["image"] == f"apache/kafka:{KAFKA_VERSION}"
    assert SERVICES["kafka"]["environment"]["KAFKA_PROCESS_ROLES"] == "broker,controller"  # KRaft, no ZooKeeper
    assert SERVICES["timescaledb"]["image"].startswith("timescale/timescaledb:")
    assert SERVICES["mosquitto"]["image"].startswith("eclipse-mosquitto:2")
    assert set(GRIDWATCH) == {"migrate", "ingest", "api", "edge-sample"}


@pytest.mark.parametrize("name", sorted(set(SERVICES) - {"migrate"}))
def test_long_running_services_have_health_checks(name: str) -> None:
    assert SERVICES[name]["healthcheck"]["test"]


@pytest.mark.parametrize("name", GRIDWATCH)
def test_gridwatch_commands_parse(name: str) -> None:
    args = build_parser().parse_args(SERVICES[name]["command"])
    assert callable(args.handler)
    for value in SERVICES[name]["command"]:
        if value.startswith("/app/"):
            assert (REPO / value.removeprefix("/app/")).is_file(), f"{name} refers to a missing {value}"


@pytest.mark.parametrize("name", GRIDWATCH)
def test_gridwatch_environment_builds_valid_production_settings(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    for key, value in _environment(SERVICES[name]).items():
        monkeypatch.setenv(key, value)
    settings = Settings()
    assert settings.environment == "production"
    assert settings.kafka.bootstrap_servers == "kafka:9092"
    assert "@timescaledb:5432/" in settings.database.url


def test_named_volumes_are_declared() -> None:
    used = {v.split(":")[0] for s in SERVICES.values() for v in s.get("volumes", []) if not v.startswith((".", "/"))}
    assert used <= set(COMPOSE["volumes"])
