"""Real servers for integration tests: Kafka, PostgreSQL and MQTT started once per session by
``gridwatch.servers`` (the code ``gridwatch up`` runs) on free ports under a temporary folder.

Fixtures: ``kafka_bootstrap``, ``pg_server``, ``database_url`` (a fresh migrated database per test),
``mqtt_port`` and ``settings_factory`` (Settings on those servers, with topics of the test's own).
A server that cannot start fails its tests with the reason and the end of its log: CI has them all.
"""

from __future__ import annotations

import secrets
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest
from kafka import KafkaAdminClient, KafkaConsumer
from kafka.admin import NewTopic
from kafka.errors import KafkaError

from gridwatch.kafka import ensure_topics
from gridwatch.servers import ChildServer, KafkaServer, MqttServer, PostgresServer, ServerError
from gridwatch.servers.ports import free_port
from gridwatch.settings import Settings, Topics
from ingest.migrate import migrate

HERE = Path(__file__).parent
S = TypeVar("S", bound=ChildServer)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark every test under tests/integration ``integration`` (this hook sees the whole session)."""
    for item in items:
        if HERE in item.path.parents:
            item.add_marker(pytest.mark.integration)


def _started(server: S) -> S:
    try:
        return server.start()
    except ServerError as exc:
        pytest.fail(f"could not start {server.name} for the integration tests: {exc}", pytrace=False)


@pytest.fixture(scope="session")
def servers_dir() -> Iterator[Path]:
    # Not tmp_path_factory: pytest keeps its base folder 0700, and PostgreSQL and Mosquitto run as
    # their own unprivileged users here, so they must be able to pass through this folder.
    path = Path(tempfile.mkdtemp(prefix="gridwatch-servers-"))
    path.chmod(0o711)
    yield path
    shutil.rmtree(path, ignore_errors=True)


def _warm_group_coordinator(bootstrap: str, timeout_s: float = 120.0) -> None:
    """Join a throwaway group once: a fresh broker's first join waits for ``__consumer_offsets`` to
    be created and loaded (NotCoordinator for up to tens of seconds on a busy 2-core machine), and
    that wait belongs to the session's setup, not to whichever test happens to run first."""
    topic = "gridwatch.warmup"
    admin = KafkaAdminClient(bootstrap_servers=bootstrap)
    try:
        admin.create_topics([NewTopic(topic, 1, 1)])
    finally:
        admin.close()
    consumer = KafkaConsumer(topic, bootstrap_servers=bootstrap, group_id="gridwatch-warmup")
    deadline = time.monotonic() + timeout_s
    try:
        while not consumer.assignment() and time.monotonic() < deadline:
            consumer.poll(timeout_ms=500)
    finally:
        consumer.close()


@pytest.fixture(scope="session")
def kafka_server(servers_dir: Path) -> Iterator[KafkaServer]:
    server = _started(KafkaServer(servers_dir))
    _warm_group_coordinator(server.bootstrap)
    yield server
    server.stop()


@pytest.fixture(scope="session")
def kafka_bootstrap(kafka_server: KafkaServer) -> str:
    return kafka_server.bootstrap


@pytest.fixture(scope="session")
def pg_server(servers_dir: Path) -> Iterator[PostgresServer]:
    server = _started(PostgresServer(servers_dir))
    yield server
    server.stop()


@pytest.fixture
def database_url(pg_server: PostgresServer) -> Iterator[str]:
    """URL of a database of this test's own, with GridWatch's migrations applied; dropped afterwards."""
    name = f"gw_{secrets.token_hex(6)}"
    url = pg_server.create_database(name)
    try:
        migrate(url)
        yield url
    finally:
        pg_server.drop_database(name)


@pytest.fixture(scope="session")
def mqtt_server(servers_dir: Path) -> Iterator[MqttServer]:
    server = _started(MqttServer(servers_dir, broker="mosquitto"))
    yield server
    server.stop()


@pytest.fixture(scope="session")
def mqtt_port(mqtt_server: MqttServer) -> int:
    return mqtt_server.port


def _merged(base: dict[str, Any], overrides: dict[str, Any]) -> dict[str, Any]:
    """``base`` with ``overrides`` applied; nested dicts merge key by key."""
    out = dict(base)
    for key, value in overrides.items():
        out[key] = _merged(out[key], value) if isinstance(value, dict) and isinstance(out.get(key), dict) else value
    return out


def _delete_topics(bootstrap: str, names: set[str]) -> None:
    admin = KafkaAdminClient(bootstrap_servers=bootstrap)
    try:
        admin.delete_topics(sorted(names & set(admin.list_topics())))
    except KafkaError:
        pass  # a leftover topic costs a little disk in a folder deleted at the end of the session
    finally:
        admin.close()


@pytest.fixture
def settings_factory(
    kafka_bootstrap: str, database_url: str, mqtt_port: int, tmp_path: Path
) -> Iterator[Callable[..., Settings]]:
    """``settings_factory(**overrides) -> Settings`` on the session's servers.

    Every call in one test shares the test's topics (``gridwatch.<name>.<token>``, created with
    ``ensure_topics``), consumer group, database and folders, so an edge and an ingest built from
    two calls talk to each other. Overrides are nested dicts, e.g. ``settings_factory(ingest={"batch_max": 10})``.
    Metrics ports are 0 (off); the API gets a free port. Topics are deleted after the test.
    """
    token = secrets.token_hex(4)
    base: dict[str, Any] = {
        "data_dir": tmp_path / "var",
        "kafka": {
            "bootstrap_servers": kafka_bootstrap,
            "topics": {name: f"gridwatch.{name}.{token}" for name in Topics.model_fields},
            "ingest_group": f"gridwatch-ingest-{token}",
            "client_id": f"gridwatch-test-{token}",
        },
        "database": {"url": database_url},
        "mqtt": {"host": "127.0.0.1", "port": mqtt_port},
        "api": {"host": "127.0.0.1", "port": free_port()},
        "ingest": {"metrics_port": 0},
        "edge": {"spool_dir": tmp_path / "edge-spool", "metrics_port": 0},
        "log_format": "console",
    }
    topics: set[str] = set()

    def factory(**overrides: Any) -> Settings:
        # model_validate, not Settings(): a test's settings must not pick up GRIDWATCH_* from the shell.
        settings = Settings.model_validate(_merged(base, overrides))
        ensure_topics(settings.kafka)
        topics.update(settings.kafka.topics.model_dump().values())
        return settings

    yield factory
    if topics:
        _delete_topics(kafka_bootstrap, topics)
