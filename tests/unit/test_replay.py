import json
from pathlib import Path

from gridwatch.cli import main
from gridwatch.contracts import Incident

from .conftest import SAMPLE_GRIDS
from .factories import alert_factory, report_factory

M = 1 / 111_195


def _events(path: Path) -> list[str]:
    fire = alert_factory("fire")
    lines = [
        fire.model_dump_json(),
        alert_factory("fire", minutes=2, dlat=30 * M).model_dump_json(),
        fire.model_dump_json(),  # re-sent copy
        report_factory("fire", minutes=9, dlon=50 * M).model_dump_json(),
        alert_factory("alarm", minutes=3, dlon=1000 * M).model_dump_json(),
        '{"kind": "alert", "id": "broken"}',
        "not json at all",
        "",
        # refused as the live ingest refuses them: a NUL PostgreSQL cannot store, a time beyond the calendar
        alert_factory("fire", minutes=4, attributes={"zone": "gate\x00"}).model_dump_json(),
        json.dumps({**alert_factory("fire", minutes=5).model_dump(mode="json"), "observed_at": "0001-01-01T00:00:00+01:00"}),
    ]
    path.write_bytes(("\n".join(lines) + "\n").encode() + b"\xff\xfe not UTF-8\n")
    return [fire.id]


def test_replay_writes_incidents_with_every_member(tmp_path: Path, capsys) -> None:
    events, out = tmp_path / "events.jsonl", tmp_path / "incidents.jsonl"
    _events(events)
    assert main(["replay", "--grids", str(SAMPLE_GRIDS), "--input", str(events), "--output", str(out)]) == 0
    incidents = [Incident.model_validate_json(line) for line in out.read_text().splitlines()]
    assert [(i.category, len(i.alert_ids), len(i.report_ids)) for i in incidents] == [("fire", 2, 1), ("alarm", 1, 0)]
    assert all(i.grid_id is not None for i in incidents)
    err = capsys.readouterr().err
    assert "replayed 5 observations (1 duplicates" in err
    assert f"{events}:6: category: Field required" in err and f"{events}:7: not valid JSON" in err
    assert f"{events}:9: holds \\u0000 (a NUL character)" in err
    assert f"{events}:10: observed_at: Value error, timestamp out of range" in err
    assert f"{events}:11: not valid UTF-8 text" in err


def test_replay_is_deterministic(tmp_path: Path) -> None:
    events = tmp_path / "events.jsonl"
    _events(events)
    outputs = []
    for n in range(2):
        out = tmp_path / f"out{n}.jsonl"
        main(["replay", "--grids", str(SAMPLE_GRIDS), "--input", str(events), "--output", str(out)])
        outputs.append(out.read_bytes())
    assert outputs[0] == outputs[1] and outputs[0]
    assert json.loads(outputs[0].splitlines()[0])["status"] == "open"


def test_bad_engine_config_is_reported(tmp_path: Path, capsys) -> None:
    events, config = tmp_path / "events.jsonl", tmp_path / "engine.yaml"
    _events(events)
    config.write_text("rules:\n  fire: {radius_m: -5, window_s: 60, risk: red}\n")
    code = main(["replay", "--grids", str(SAMPLE_GRIDS), "--input", str(events), "--output",
                 str(tmp_path / "o.jsonl"), "--engine-config", str(config)])
    assert code == 2
    assert f"{config}:2: rules.fire.radius_m: Input should be greater than 0" in capsys.readouterr().err
