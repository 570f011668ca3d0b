"""New observations on real PostgreSQL: COPY'd with the message they came in as their payload, their
times exact, and the look-up of what is stored already matching on id and time."""

from __future__ import annotations

import json
from datetime import timedelta

import psycopg
import pytest

from gridwatch.contracts import parse_observation
from ingest import store
from ingest.grids import GridAssignment
from ingest.store import observation_key

from ..unit.factories import alert_factory, report_factory

pytestmark = pytest.mark.integration

GRID = GridAssignment("YZ-S1-C2-G3-M1", ("YZ-S1-C2-G3-M1", "YZ-S1-C2-G3", "YZ-S1-C2", "YZ-S1", "YZ"))


def test_observations_are_stored_with_their_message_text_or_else_their_model(database_url: str) -> None:
    sent = alert_factory("fire", attributes={"zone": "gate"}, extra_field="kept")
    # A text as a producer may send it: its own key order and spacing, a time with an offset.
    text = json.dumps({**json.loads(sent.to_json()), "observed_at": "2026-09-09T14:00:00.123456+08:00"}, indent=1)
    alert = parse_observation(json.loads(text))
    report = report_factory("hazard")
    with psycopg.connect(database_url) as conn, conn.transaction(), conn.cursor() as cur:
        store.insert_observations(cur, [(alert, GRID), (report, GRID)], None, [text, None])
    with psycopg.connect(database_url) as conn:
        payload, observed_at, grid_path = conn.execute("SELECT payload, observed_at, grid_path FROM alerts").fetchone()
        (report_payload,) = conn.execute("SELECT payload FROM reports").fetchone()
    assert payload == json.loads(text) and payload["extra_field"] == "kept"
    assert observed_at == alert.observed_at and observed_at.microsecond == 123456  # the time exactly, not to the ms
    assert grid_path == list(GRID.path)
    assert report_payload == json.loads(report.to_json())  # no text given: the model's dump
    assert parse_observation(payload) == alert  # what the engine reads back at a restart


def test_stored_keys_match_on_id_and_time(database_url: str) -> None:
    stored, other = alert_factory("fire"), alert_factory("fire")
    resent_later = stored.model_copy(update={"observed_at": stored.observed_at + timedelta(seconds=1)})
    report = report_factory("hazard")
    with psycopg.connect(database_url) as conn, conn.transaction(), conn.cursor() as cur:
        store.insert_observations(cur, [(stored, GRID), (report, GRID)])
    with psycopg.connect(database_url) as conn, conn.cursor() as cur:
        found = store.stored_keys(cur, [stored, other, resent_later, report])
        assert store.stored_keys(cur, []) == set()
    assert found == {observation_key(stored), observation_key(report)}


def test_grid_paths_land_whole_outside_every_grid_and_in_any_script(database_url: str) -> None:
    outside, inside = alert_factory("fire"), report_factory("hazard", text="楼道堆放杂物")
    chinese = GridAssignment("迎泽-1", ("迎泽-1", "迎泽街道", "迎泽区"))
    with psycopg.connect(database_url) as conn, conn.transaction(), conn.cursor() as cur:
        store.insert_observations(cur, [(outside, GridAssignment(None, ())), (inside, chinese)])
    with psycopg.connect(database_url) as conn:
        assert conn.execute("SELECT grid_id, grid_path FROM alerts").fetchall() == [(None, [])]
        assert conn.execute("SELECT grid_id, grid_path, text FROM reports").fetchall() == [
            ("迎泽-1", ["迎泽-1", "迎泽街道", "迎泽区"], "楼道堆放杂物")]


def test_postgresql_refuses_a_nul_so_decode_dead_letters_such_a_message(database_url: str) -> None:
    alert = alert_factory("fire", attributes={"zone": "gate\x00"})
    with psycopg.connect(database_url) as conn, conn.transaction(), conn.cursor() as cur:
        with pytest.raises(psycopg.errors.UntranslatableCharacter):
            store.insert_observations(cur, [(alert, GRID)])
        raise psycopg.Rollback()
