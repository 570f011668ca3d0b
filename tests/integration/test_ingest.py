"""The ingest on real Kafka and PostgreSQL: storage, idempotency, dead letters, crash safety, reloads."""

from __future__ import annotations

import base64
import json
import signal
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import psycopg
import pytest
from kafka import KafkaConsumer, TopicPartition
from prometheus_client import CollectorRegistry

from gridwatch.contracts import Alert, Heartbeat, Incident
from gridwatch.gridmap import load_grid_map, map_version, parse_grid_map
from gridwatch.settings import Settings
from ingest import store
from ingest.engine import IncidentEngine
from ingest.gridstore import store_grid_map
from ingest.grids import GridIndex
from ingest.replay import ReplaySummary, replay
from ingest.service import build_worker

from ..unit.conftest import SAMPLE_GRIDS
from ..unit.factories import T0, alert_factory, report_factory
from .helpers import produce, query, settings_env, wait_for_records, wait_until
from .pipeline import running_ingest

M = 1 / 111_195


@pytest.fixture
def settings(settings_factory) -> Settings:
    base: Settings = settings_factory()
    return base.model_copy(update={"ingest": base.ingest.model_copy(update={"grid_reload_s": 0.2, "metrics_port": 0})})


def _as_messages(observations: list) -> list[tuple[str, bytes]]:
    return [(getattr(o, "device_id", None) or o.worker_id, o.to_json()) for o in observations]


def test_alerts_and_reports_become_incidents_stored_and_published(settings: Settings) -> None:
    topics = settings.kafka.topics
    fire = alert_factory("fire")
    produce(settings, topics.alerts, _as_messages([fire, alert_factory("fire", minutes=1, dlat=20 * M)]))
    produce(settings, topics.reports, _as_messages([report_factory("hazard", minutes=2, dlon=900 * M)]))
    with running_ingest(settings, SAMPLE_GRIDS):
        url = settings.database.url
        rows = wait_until(lambda: query(url, "SELECT category, array_length(alert_ids, 1), array_length(report_ids, 1),"
                                              " grid_id, status FROM incidents ORDER BY category") if
                          len(query(url, "SELECT 1 FROM incidents")) == 2 else None, what="two incidents")
        assert rows == [("fire", 2, None, "YZ-S1-C2-G3-M1", "open"), ("hazard", None, 1, rows[1][3], "open")]
        assert rows[1][3] is not None
        linked = query(url, "SELECT count(*) FROM alerts WHERE incident_id IS NOT NULL")
        assert linked == [(2,)]
        history = query(url, "SELECT actor, action, status FROM incident_history")
        assert sorted(history) == [("engine", "raise", "open")] * 2
        published = wait_for_records(settings, topics.incidents, 2, "two published incidents")
        assert {Incident.model_validate_json(r.value).category for r in published} == {"fire", "hazard"}


def test_same_alert_sent_twice_is_stored_once(settings: Settings) -> None:
    alarm = alert_factory("alarm", type="alarm_button")
    produce(settings, settings.kafka.topics.alerts, _as_messages([alarm, alarm]))
    with running_ingest(settings, SAMPLE_GRIDS) as worker:
        url = settings.database.url
        wait_until(lambda: worker.metrics.messages.labels(settings.kafka.topics.alerts)._value.get() >= 2,
                   what="both copies consumed")
        wait_until(lambda: query(url, "SELECT 1 FROM incidents"), what="the incident")
    assert query(url, "SELECT count(*) FROM alerts WHERE id = %s", (alarm.id,)) == [(1,)]
    assert query(url, "SELECT alert_ids FROM incidents") == [([alarm.id],)]


def test_an_alert_id_sent_again_with_another_time_is_stored_once(settings: Settings) -> None:
    # The alerts table's key is (id, observed_at), the engine's dedupe is by id: the row once came twice.
    alarm = alert_factory("alarm", type="alarm_button")
    again = alarm.model_copy(update={"observed_at": alarm.observed_at + timedelta(seconds=1)})
    produce(settings, settings.kafka.topics.alerts, _as_messages([alarm]))
    with running_ingest(settings, SAMPLE_GRIDS) as worker:
        url = settings.database.url
        wait_until(lambda: query(url, "SELECT 1 FROM incidents"), what="the incident")
        produce(settings, settings.kafka.topics.alerts, _as_messages([again]))
        wait_until(lambda: worker.metrics.messages.labels(settings.kafka.topics.alerts)._value.get() >= 2,
                   what="the second copy consumed")
        wait_until(lambda: worker.metrics.duplicates._value.get() >= 1, what="the copy counted as a duplicate")
    assert query(url, "SELECT observed_at FROM alerts WHERE id = %s", (alarm.id,)) == [(alarm.observed_at,)]


def test_malformed_messages_are_dead_lettered_counted_and_ingest_goes_on(settings: Settings) -> None:
    topics = settings.kafka.topics
    good = alert_factory("alarm")
    bad_alert = json.dumps({**json.loads(good.to_json()), "id": "a-bad", "lat": 123.0}).encode()
    # PostgreSQL's text and jsonb hold no NUL: neither a raw NUL byte nor an escaped one may stall a batch.
    nul_byte = b'{"id": "a-nul\x00"}'
    nul_escaped = json.dumps({**json.loads(good.to_json()), "id": "a-nul", "type": "x\u0000"}).encode()
    produce(settings, topics.alerts, [("cam-1", b"\xff\xfe not utf-8"), ("cam-1", b"[1, 2]"), ("cam-1", bad_alert),
                                      ("cam-1", nul_byte), ("cam-1", nul_escaped), ("cam-1", good.to_json())])
    with running_ingest(settings, SAMPLE_GRIDS) as worker:
        url = settings.database.url
        rows = wait_until(lambda: (r := query(url, "SELECT reason, payload, context->>'original_topic' FROM dead_letters"
                                                   " ORDER BY (context->>'offset')::int")) and len(r) == 5 and r,
                          what="five dead letters")
        assert [r[0] for r in rows] == ["not valid UTF-8 text", "expected a JSON object, got list",
                                        "lat: Input should be less than or equal to 90",
                                        "not valid JSON: Invalid control character at line 1 column 14",
                                        "holds \\u0000 (a NUL character), which PostgreSQL cannot store"]
        assert {r[2] for r in rows} == {topics.alerts}
        assert json.loads(rows[2][1])["id"] == "a-bad"
        assert base64.b64decode(rows[3][1]) == nul_byte
        assert rows[4][1] == nul_escaped.decode()
        assert worker.metrics.rejected.labels(topics.alerts)._value.get() == 5
        wait_until(lambda: query(url, "SELECT alert_ids FROM incidents") == [([good.id],)], what="the good alert")


def test_a_message_no_check_refused_but_the_database_does_is_found_dead_lettered_and_the_rest_stored(
        settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    # Stands in for a value PostgreSQL refuses that no decoder check knows of: its batch failed on every
    # retry. After two failures the ingest reads one message at a time and dead-letters the one.
    real_row = store._alert_row

    def refusing(alert, *rest):  # type: ignore[no-untyped-def]
        if alert.id == "a-poison":
            raise psycopg.errors.InvalidTextRepresentation("invalid input syntax for type json")
        return real_row(alert, *rest)

    monkeypatch.setattr(store, "_alert_row", refusing)
    topics = settings.kafka.topics
    before = [alert_factory("alarm", minutes=i, dlon=i * 900 * M) for i in range(3)]
    poison = alert_factory("alarm", minutes=3, dlon=3 * 900 * M).model_copy(update={"id": "a-poison"})
    after = [alert_factory("alarm", minutes=4 + i, dlon=(4 + i) * 900 * M) for i in range(3)]
    produce(settings, topics.alerts, _as_messages([*before, poison, *after]))
    with running_ingest(settings, SAMPLE_GRIDS) as worker:
        url = settings.database.url
        rows = wait_until(lambda: query(url, "SELECT reason, payload FROM dead_letters"), what="the dead letter",
                          timeout_s=60)
        wait_until(lambda: len(query(url, "SELECT 1 FROM alerts")) == 6, what="the six other alerts stored")
        later = alert_factory("alarm", minutes=10, dlon=5000 * M)
        produce(settings, topics.alerts, _as_messages([later]))
        wait_until(lambda: query(url, "SELECT 1 FROM alerts WHERE id = %s", (later.id,)), what="a later alert")
        assert worker.metrics.rejected.labels(topics.alerts)._value.get() == 1
    assert rows == [("could not be stored: InvalidTextRepresentation: invalid input syntax for type json",
                     poison.to_json().decode())]
    stored = {r[0] for r in query(url, "SELECT id FROM alerts")}
    assert stored == {a.id for a in [*before, *after, later]}
    assert len(query(url, "SELECT 1 FROM incidents")) == 7


def execute(url: str, *statements: str) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        for statement in statements:
            conn.execute(statement)


def _stream(n_events: int) -> list[Alert]:
    """Alerts of many separate parked cars, each seen three times over six minutes (enough to confirm)."""
    alerts = []
    for e in range(n_events):
        dlat, dlon = (e % 10) * 150 * M, (e // 10 % 10) * 150 * M
        for k in range(3):
            alerts.append(alert_factory("parking", minutes=e * 1.0 + k * 3.0, dlat=dlat - 1500 * M + k * M,
                                        dlon=dlon - 500 * M, device_id=f"cam-{e % 7}", confidence=0.8))
    return alerts


def _assert_stored_once_as_replay_says(url: str, alerts: list[Alert]) -> None:
    n = len(alerts)
    assert query(url, "SELECT count(*), count(DISTINCT id), count(incident_id) FROM alerts") == [(n, n, n)]
    live = {r[0]: sorted(r[1]) for r in query(url, "SELECT id, alert_ids FROM incidents")}
    replayed = replay(iter(alerts), IncidentEngine(GridIndex(load_grid_map(SAMPLE_GRIDS))), ReplaySummary())
    assert live == {i.id: sorted(i.alert_ids) for i in replayed}
    assert query(url, "SELECT incident_id, action FROM incident_history GROUP BY 1, 2 HAVING count(*) > 1") == []


def test_ingest_killed_mid_stream_loses_nothing_duplicates_nothing_and_matches_replay(settings: Settings) -> None:
    url = settings.database.url
    store_grid_map(url, load_grid_map(SAMPLE_GRIDS), source="test")
    alerts = _stream(600)
    produce(settings, settings.kafka.topics.alerts, [("cam-0", a.to_json()) for a in alerts])  # one partition: one order
    env = settings_env(settings)
    env["GRIDWATCH_INGEST__BATCH_MAX"] = "100"
    cmd = [sys.executable, "-m", "gridwatch.cli", "ingest"]
    first = subprocess.Popen(cmd, env=env, stderr=subprocess.DEVNULL)
    wait_until(lambda: query(url, "SELECT count(*) FROM alerts")[0][0] >= 300, timeout_s=60, what="half the stream")
    first.send_signal(signal.SIGKILL)
    first.wait()
    stored_at_kill = query(url, "SELECT count(*) FROM alerts")[0][0]
    assert stored_at_kill < len(alerts), "the kill came too late to test anything"
    second = subprocess.Popen(cmd, env=env, stderr=subprocess.DEVNULL)
    try:
        wait_until(lambda: query(url, "SELECT count(*) FROM alerts")[0][0] == len(alerts), timeout_s=60,
                   what="the whole stream")
        wait_until(lambda: not query(url, "SELECT 1 FROM incident_outbox WHERE published_at IS NULL"),
                   what="the outbox drained")
    finally:
        second.terminate()
        assert second.wait(timeout=30) == 0
    assert len(alerts) == 1800
    _assert_stored_once_as_replay_says(url, alerts)
    assert query(url, "SELECT count(*) FROM incidents") == [(600,)]


def test_grid_map_reload_takes_effect_without_restart(settings: Settings, tmp_path: Path) -> None:
    url = settings.database.url
    store_grid_map(url, load_grid_map(SAMPLE_GRIDS), source="test")
    topics = settings.kafka.topics
    with running_ingest(settings) as worker:
        produce(settings, topics.alerts, [("cam-1", alert_factory("alarm").to_json())])
        wait_until(lambda: query(url, "SELECT grid_id FROM alerts") == [("YZ-S1-C2-G3-M1",)], what="first alert")
        ring = [[112.5, 37.8], [112.6, 37.8], [112.6, 37.9], [112.5, 37.9], [112.5, 37.8]]
        new_map = parse_grid_map({"type": "FeatureCollection", "features": [
            {"type": "Feature", "properties": {"id": "NEW", "level": "district", "parent_id": None},
             "geometry": {"type": "Polygon", "coordinates": [ring]}}]}, tmp_path)
        store_grid_map(url, new_map, source="test")
        wait_until(lambda: worker.grid_version == map_version(new_map), what="reload")
        produce(settings, topics.alerts, [("cam-1", alert_factory("alarm", minutes=60).to_json())])
        wait_until(lambda: ("NEW",) in query(url, "SELECT grid_id FROM alerts"), what="alert in the new map")


def test_heartbeats_are_stored_and_the_device_keeps_its_latest_state(settings: Settings) -> None:
    topics = settings.kafka.topics
    newer = Heartbeat(device_id="cam-9", site_id="site-1", device_type="camera", seen_at=T0 + timedelta(minutes=5),
                      status="offline", attributes={"fps": 0})
    older = Heartbeat(device_id="cam-9", site_id="site-1", device_type="camera", seen_at=T0, attributes={"fps": 25})
    produce(settings, topics.heartbeats, [("cam-9", newer.to_json()), ("cam-9", older.to_json())])
    with running_ingest(settings, SAMPLE_GRIDS):
        url = settings.database.url
        wait_until(lambda: query(url, "SELECT count(*) FROM device_heartbeats")[0][0] == 2, timeout_s=60,
                   what="both heartbeats")
        assert query(url, "SELECT device_id, device_type, status, last_seen, attributes FROM devices") == [
            ("cam-9", "camera", "offline", newer.seen_at, {"fps": 0})]


def test_a_failed_batch_is_written_again_and_the_batch_polled_ahead_is_not_lost(settings: Settings) -> None:
    """The database refuses alerts (a trigger) until the test lifts it: the worker recovers, drops
    the batch it polled ahead, rewinds, and in the end every alert is stored once, as replay says."""
    url = settings.database.url
    settings = settings.model_copy(update={"ingest": settings.ingest.model_copy(update={"batch_max": 100})})
    alerts = _stream(200)
    produce(settings, settings.kafka.topics.alerts, [("cam-0", a.to_json()) for a in alerts])
    with running_ingest(settings, SAMPLE_GRIDS) as worker:
        wait_until(lambda: query(url, "SELECT count(*) FROM alerts")[0][0] >= 100, what="the first batches")
        execute(url, "CREATE SEQUENCE refused", "CREATE TABLE refusing (on_ boolean)",
                "INSERT INTO refusing VALUES (true)",
                """CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS $$
                   BEGIN
                     IF EXISTS (SELECT 1 FROM refusing) THEN
                       PERFORM nextval('refused');
                       RAISE EXCEPTION 'refused by the test';
                     END IF;
                     RETURN NULL;
                   END $$""",
                "CREATE TRIGGER refuse BEFORE INSERT ON alerts FOR EACH STATEMENT EXECUTE FUNCTION refuse()")
        wait_until(lambda: query(url, "SELECT last_value >= 2 AND is_called FROM refused")[0][0], timeout_s=60,
                   what="two refused batches")
        execute(url, "DELETE FROM refusing")
        wait_until(lambda: query(url, "SELECT count(*) FROM alerts")[0][0] == len(alerts), timeout_s=60,
                   what="the whole stream")
        assert worker.metrics.messages.labels(settings.kafka.topics.alerts)._value.get() > len(alerts)  # re-polled
    _assert_stored_once_as_replay_says(url, alerts)


def _committed_offsets(settings: Settings, topic: str) -> list[int | None]:
    """The ingest group's committed offset of each partition of ``topic`` (None: none committed)."""
    consumer = KafkaConsumer(bootstrap_servers=settings.kafka.bootstrap_servers, group_id=settings.kafka.ingest_group,
                             enable_auto_commit=False)
    try:
        partitions = wait_until(lambda: consumer.partitions_for_topic(topic), what=topic)
        return [consumer.committed(TopicPartition(topic, p)) for p in sorted(partitions)]
    finally:
        consumer.close()


def test_a_batch_stored_but_whose_offsets_were_never_committed_is_read_again_and_stored_once(
        settings: Settings) -> None:
    """The crash between the two commits: the batch's transaction has committed, its Kafka offsets
    have not. The next worker reads the batch again, finds every alert stored, and goes on."""
    url = settings.database.url
    store_grid_map(url, load_grid_map(SAMPLE_GRIDS), source="test")
    settings = settings.model_copy(update={"ingest": settings.ingest.model_copy(update={"batch_max": 100})})
    alerts = _stream(100)
    produce(settings, settings.kafka.topics.alerts, [("cam-0", a.to_json()) for a in alerts])  # one partition
    first = build_worker(settings, None, CollectorRegistry())
    try:
        while first.run_once() == 0:  # the first batch goes through the engine to the writer
            pass
        written = first.writer.wait()  # ... its transaction commits, and the worker dies here
    finally:
        first.close()  # nothing left in flight: close commits no offsets
    assert written is not None and len(written.fresh) == 100
    assert query(url, "SELECT count(*) FROM alerts") == [(100,)]
    assert set(_committed_offsets(settings, settings.kafka.topics.alerts)) == {None}

    with running_ingest(settings) as second:
        wait_until(lambda: query(url, "SELECT count(*) FROM alerts")[0][0] == len(alerts), timeout_s=90,
                   what="the whole stream")
        wait_until(lambda: not query(url, "SELECT 1 FROM incident_outbox WHERE published_at IS NULL"),
                   what="the outbox drained")
        assert second.metrics.duplicates._value.get() >= 100  # the first batch, read again, found stored
    _assert_stored_once_as_replay_says(url, alerts)


def test_ingest_reconnects_when_its_database_connections_are_terminated_mid_stream(settings: Settings) -> None:
    """What a PostgreSQL restart does to a client: its backends end. The worker recovers on new
    connections, and every alert is stored once, as replay says."""
    url = settings.database.url
    settings = settings.model_copy(update={"ingest": settings.ingest.model_copy(update={"batch_max": 100})})
    alerts = _stream(300)
    produce(settings, settings.kafka.topics.alerts, [("cam-0", a.to_json()) for a in alerts])
    terminate = ("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                 "WHERE datname = current_database() AND pid <> pg_backend_pid()")
    with running_ingest(settings, SAMPLE_GRIDS) as worker:
        backends = set(worker.backend_pids())
        for stored in (100, 400):
            wait_until(lambda: query(url, "SELECT count(*) FROM alerts")[0][0] >= stored, timeout_s=90,  # noqa: B023
                       what=f"{stored} alerts stored")
            assert query(url, terminate)[0][0] >= 2
        assert query(url, "SELECT count(*) FROM alerts")[0][0] < len(alerts), "terminated too late to test anything"
        wait_until(lambda: query(url, "SELECT count(*) FROM alerts")[0][0] == len(alerts), timeout_s=90,
                   what="the whole stream")
        wait_until(lambda: not query(url, "SELECT 1 FROM incident_outbox WHERE published_at IS NULL"),
                   what="the outbox drained")
        assert not backends & set(worker.backend_pids()), "the worker still names a terminated backend"
    _assert_stored_once_as_replay_says(url, alerts)
