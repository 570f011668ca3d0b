"""The edge agent on real Mosquitto and Kafka: presses, dead letters, liveness, store-and-forward, SIGTERM."""

from __future__ import annotations

import json
import secrets
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections import Counter
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, TypeVar

import cv2
import numpy as np

from edge.metrics import EdgeMetrics
from edge.publisher import Publisher
from gridwatch.backoff import Backoff
from edge.spool import Spool, spool_path
from gridwatch.contracts import Alert, Heartbeat
from gridwatch.deadletter import DeadLetter
from gridwatch.kafka import make_producer
from gridwatch.servers.ports import free_port
from gridwatch.settings import KafkaSettings, Settings

from .helpers import mqtt_publish, read_topic, settings_env, wait_for_records, wait_until
from .pipeline import running_agent, write_site

T = TypeVar("T")
Z2M_PRESS = b'{"action": "single", "battery": 90, "linkquality": 120}'


# -- helpers ---------------------------------------------------------------------------------


class TcpForwarder:
    """Forwards a local port to Kafka once started: a broker that 'comes up' during a test."""

    def __init__(self, port: int, target: tuple[str, int]) -> None:
        self.port, self.target = port, target
        self._server = socket.create_server(("127.0.0.1", port))

    def start(self) -> None:
        threading.Thread(target=self._accept, daemon=True).start()

    def close(self) -> None:
        self._server.close()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._server.accept()
            except OSError:
                return
            upstream = socket.create_connection(self.target)
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(src: socket.socket, dst: socket.socket) -> None:
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass


def alarm(i: int, site_id: str = "site-1") -> Alert:
    return Alert(id=f"a-{secrets.token_hex(8)}-{i}", category="alarm", type="alarm_button", device_id=f"btn-{i % 3}",
                 site_id=site_id, lat=37.86, lon=112.55, observed_at=datetime.now(timezone.utc), confidence=1.0)


def quick_producer(kafka: KafkaSettings, **overrides: object):  # the real client, failing fast
    return make_producer(kafka, **{**overrides, "bootstrap_timeout_ms": 1000})


# -- presses and dead letters ---------------------------------------------------------------


def test_zigbee2mqtt_press_arrives_on_the_alerts_topic_keyed_by_device(settings_factory, tmp_path: Path) -> None:
    settings: Settings = settings_factory()
    site, path = write_site(tmp_path)
    button = site.buttons[0]
    with running_agent(settings, site, path):
        mqtt_publish(settings.mqtt.port, [(button.topic, Z2M_PRESS)])
        [record] = wait_for_records(settings, settings.kafka.topics.alerts, 1, "the press on the alerts topic")
    assert record.key == b"btn-gate-east"
    alert = Alert.model_validate_json(record.value)
    assert (alert.category, alert.type, alert.device_id, alert.site_id) == ("alarm", "alarm_button", "btn-gate-east", site.site_id)
    assert (alert.lat, alert.lon, alert.confidence) == (button.lat, button.lon, 1.0)
    assert alert.attributes == {"press": "single", "battery": 90, "topic": button.topic}
    assert abs((datetime.now(timezone.utc) - alert.observed_at).total_seconds()) < 60


def test_malformed_payload_is_dead_lettered_and_the_next_press_still_works(settings_factory, tmp_path: Path) -> None:
    settings: Settings = settings_factory()
    site, path = write_site(tmp_path)
    topic = site.buttons[0].topic
    with running_agent(settings, site, path) as agent:
        mqtt_publish(settings.mqtt.port, [(topic, b"{not json"), (topic, b'{"action": "triple"}'), (topic, Z2M_PRESS)])
        dead = wait_for_records(settings, settings.kafka.topics.deadletter, 2, "two dead letters")
        alerts = wait_for_records(settings, settings.kafka.topics.alerts, 1, "the good press after the bad ones")
        health = agent.health()
        not_json = agent.metrics.registry.get_sample_value("gridwatch_edge_mqtt_rejected_total", {"reason": "not_json"})
    letters = sorted((DeadLetter.from_json(r.value) for r in dead), key=lambda letter: letter.payload)
    assert [(letter.source, letter.topic, letter.payload) for letter in letters] == [
        ("mqtt", topic, '{"action": "triple"}'), ("mqtt", topic, "{not json"),
    ]
    assert "action 'triple' is not configured for button btn-gate-east" in letters[0].reason
    assert "not valid JSON" in letters[1].reason
    assert all(dict(r.headers)["reason"].decode() in {l.reason for l in letters} for r in dead)
    assert {r.key for r in dead} == {b"btn-gate-east"}
    assert Alert.model_validate_json(alerts[0].value).attributes["press"] == "single"
    assert health["ok"] and health["mqtt_connected"] and health["kafka_reachable"]
    assert not_json == 1


# -- liveness ----------------------------------------------------------------------------------


def test_dead_camera_goes_offline_once_and_live_devices_heartbeat(settings_factory, tmp_path: Path) -> None:
    video = tmp_path / "gate.avi"
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"MJPG"), 20, (64, 48))
    for i in range(10):
        writer.write(np.full((48, 64, 3), 20 * i, np.uint8))
    writer.release()
    settings: Settings = settings_factory()
    cameras = [
        {"id": "cam-live", "source": "gate.avi", "lat": 37.8614, "lon": 112.5534},  # relative to the site file
        {"id": "cam-dead", "source": "missing.avi", "lat": 37.8615, "lon": 112.5535},
    ]
    site, path = write_site(tmp_path, buttons=[], cameras=cameras, heartbeat={"interval_s": 0.5, "offline_after_s": 1.5})
    with running_agent(settings, site, path) as agent:
        offline = wait_for_records(settings, settings.kafka.topics.alerts, 1, "a camera_offline alert")
        def beats_from_live_devices() -> list[Heartbeat] | None:
            beats = [Heartbeat.model_validate_json(r.value) for r in read_topic(settings, settings.kafka.topics.heartbeats)]
            online = {h.device_id for h in beats if h.status == "online"}
            return beats if online >= {"cam-live", f"edge-{site.site_id}"} else None

        beats = wait_until(beats_from_live_devices, what="online heartbeats from the live camera and the agent")
        agent.tick()  # one more evaluation after the alert: still one alert
        assert agent.health()["devices_online"] == {"cam-live": True, "cam-dead": False, f"edge-{site.site_id}": True}
    alerts = [Alert.model_validate_json(r.value) for r in read_topic(settings, settings.kafka.topics.alerts)]
    assert [(a.device_id, a.category, a.type) for a in alerts] == [("cam-dead", "device", "camera_offline")]
    assert alerts[0].attributes["last_frame"] is None and alerts[0].attributes["duration_s"] >= 1.5
    assert (alerts[0].lat, alerts[0].lon) == (37.8615, 112.5535)
    assert offline[0].key == b"cam-dead"
    assert ("cam-dead", "offline") in {(h.device_id, h.status) for h in beats}


# -- store and forward ---------------------------------------------------------------------------


def test_alerts_spooled_while_kafka_is_unreachable_arrive_once_after_restart(settings_factory, tmp_path: Path) -> None:
    settings: Settings = settings_factory()
    dead_kafka = settings.kafka.model_copy(update={"bootstrap_servers": f"127.0.0.1:{free_port()}"})
    path = spool_path(settings.edge.spool_dir, "site-1")
    alerts = [alarm(i) for i in range(30)]

    metrics = EdgeMetrics()
    spool = Spool(path)
    down = Publisher(dead_kafka, spool, metrics, producer_factory=quick_producer, backoff=Backoff(0.1, 0.5))
    down.start()
    for a in alerts:
        down.publish_alert(a)
    wait_until(lambda: metrics.registry.get_sample_value("gridwatch_edge_kafka_send_failures_total"), what="a failed attempt")
    assert spool.depth() == 30 and not down.kafka_reachable
    down.stop()
    spool.close()  # as if the agent had been restarted

    spool = Spool(path)
    up = Publisher(settings.kafka, spool, EdgeMetrics())
    up.start()
    try:
        wait_until(lambda: spool.depth() == 0, what="the spool to drain")
    finally:
        up.stop()
        spool.close()
    records = read_topic(settings, settings.kafka.topics.alerts)
    ids = Counter(Alert.model_validate_json(r.value).id for r in records)
    assert ids == Counter(a.id for a in alerts), "each spooled alert exactly once"
    assert {(r.key, Alert.model_validate_json(r.value).device_id.encode()) for r in records} == {(b"btn-0", b"btn-0"), (b"btn-1", b"btn-1"), (b"btn-2", b"btn-2")}


def test_publisher_started_with_kafka_down_delivers_once_kafka_comes_up(settings_factory) -> None:
    settings: Settings = settings_factory()
    host, port = settings.kafka.bootstrap_servers.rsplit(":", 1)
    late_port = free_port()
    spool = Spool(spool_path(settings.edge.spool_dir, "site-1"))
    publisher = Publisher(settings.kafka.model_copy(update={"bootstrap_servers": f"127.0.0.1:{late_port}"}), spool,
                          EdgeMetrics(), producer_factory=quick_producer, backoff=Backoff(0.1, 0.5))
    publisher.start()
    forwarder = None
    try:
        alerts = [alarm(i) for i in range(5)]
        for a in alerts:
            publisher.publish_alert(a)
        time.sleep(0.5)  # nothing listens yet: the records can only be in the spool
        assert spool.depth() == 5
        forwarder = TcpForwarder(late_port, (host, int(port)))
        forwarder.start()
        wait_until(lambda: spool.depth() == 0, what="the spool to drain once Kafka is reachable")
        assert publisher.kafka_reachable
    finally:
        publisher.stop()
        spool.close()
        if forwarder is not None:
            forwarder.close()
    ids = Counter(Alert.model_validate_json(r.value).id for r in read_topic(settings, settings.kafka.topics.alerts))
    assert ids == Counter(a.id for a in alerts)


def test_press_received_while_kafka_is_down_is_delivered_by_the_next_agent(settings_factory, tmp_path: Path) -> None:
    settings: Settings = settings_factory()
    offline = settings.model_copy(update={"kafka": settings.kafka.model_copy(update={"bootstrap_servers": f"127.0.0.1:{free_port()}"})})
    site, path = write_site(tmp_path)
    with running_agent(offline, site, path) as agent:
        mqtt_publish(settings.mqtt.port, [(site.buttons[0].topic, Z2M_PRESS)])
        wait_until(lambda: agent.metrics.registry.get_sample_value("gridwatch_edge_alerts_total",
                                                                   {"category": "alarm", "type": "alarm_button"}),
                   what="the press to be spooled")
        assert agent.health()["ok"], "Kafka being down does not make the edge unhealthy: the spool covers it"
        assert agent.health()["spool_depth"] >= 1
    with running_agent(settings, site, path) as agent:
        wait_until(lambda: agent.spool.depth() == 0, what="the restarted agent to drain its spool")
    alerts = [Alert.model_validate_json(r.value) for r in read_topic(settings, settings.kafka.topics.alerts)]
    assert [(a.device_id, a.attributes["press"]) for a in alerts] == [("btn-gate-east", "single")]


# -- the command -------------------------------------------------------------------------------


def health(port: int) -> dict[str, Any] | None:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as response:
            return json.loads(response.read())
    except OSError:
        return None


def test_gridwatch_edge_command_publishes_and_stops_cleanly_on_sigterm(settings_factory, tmp_path: Path) -> None:
    metrics_port = free_port()
    settings: Settings = settings_factory(edge={"metrics_port": metrics_port})
    site, path = write_site(tmp_path)
    child = subprocess.Popen([sys.executable, "-m", "gridwatch.cli", "edge", "--config", str(path)],
                             env=settings_env(settings), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        wait_until(lambda: (h := health(metrics_port)) and h["mqtt_connected"], what="the agent's /healthz")
        mqtt_publish(settings.mqtt.port, [(site.buttons[0].topic, Z2M_PRESS)])
        [record] = wait_for_records(settings, settings.kafka.topics.alerts, 1, "the press from the command")
        child.send_signal(signal.SIGTERM)
        code = child.wait(timeout=20)
    finally:
        if child.poll() is None:
            child.kill()
        _, stderr = child.communicate()
    assert code == 0, stderr.decode()[-2000:]
    assert Alert.model_validate_json(record.value).site_id == site.site_id
    assert b"edge agent stopped" in stderr
