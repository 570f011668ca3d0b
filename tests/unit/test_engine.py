import json

from gridwatch.contracts import Alert
from ingest.engine import EngineConfig, EngineState, IncidentEngine, incident_id_for
from ingest.grids import GridIndex

from .factories import alert_factory, report_factory

M = 1 / 111_195  # about one metre of latitude, in degrees


def run(engine: IncidentEngine, observations: list) -> dict:
    incidents = {}
    for o in observations:
        incidents.update(engine.process_batch([o]).touched)
    return incidents


def test_repeated_alerts_of_one_fire_make_one_incident(sample_grid_index: GridIndex) -> None:
    engine = IncidentEngine(sample_grid_index)
    first = alert_factory("fire")
    incidents = run(engine, [first, alert_factory("fire", minutes=1, dlat=20 * M),
                             report_factory("fire", minutes=10, dlat=40 * M)])
    assert list(incidents) == [incident_id_for(first.id)]
    incident = incidents[incident_id_for(first.id)]
    assert len(incident.alert_ids) == 2 and len(incident.report_ids) == 1
    assert incident.grid_id == "YZ-S1-C2-G3-M1" and incident.risk == "red"
    assert [m.rule for m in incident.members] == ["first", "near", "near"]
    assert 39 < incident.members[2].distance_m < 41 and incident.members[2].gap_s == 540.0


def test_same_alert_twice_counts_once(sample_grid_index: GridIndex) -> None:
    engine = IncidentEngine(sample_grid_index)
    alert = alert_factory("alarm")
    assert not engine.process(alert).duplicate
    again = engine.process(Alert.model_validate(alert.model_dump()))
    assert again.duplicate and again.incident_id is None
    assert engine.state.active[incident_id_for(alert.id)].alert_ids == [alert.id]


def test_far_apart_or_other_category_or_later_stay_separate(sample_grid_index: GridIndex) -> None:
    engine = IncidentEngine(sample_grid_index)
    window = EngineConfig().rule("fire").window_s / 60
    incidents = run(engine, [
        alert_factory("fire"),
        alert_factory("fire", dlat=500 * M),           # beyond the fire radius
        alert_factory("crowd"),                        # another category at the same place
        alert_factory("fire", minutes=window + 5),     # the same place after the window
    ])
    assert len(incidents) == 4


def test_outside_point_gets_an_incident_flagged_outside(sample_grid_index: GridIndex) -> None:
    engine = IncidentEngine(sample_grid_index)
    report = report_factory("hazard", lat=10.0, lon=10.0)
    (incident,) = run(engine, [report]).values()
    assert incident.grid_id is None and incident.grid_path == []
    assert "outside every grid" in incident.history[0].reason


def test_state_snapshot_resumes_exactly(sample_grid_index: GridIndex) -> None:
    stream = [alert_factory("fire", minutes=i, dlat=(i % 3) * 30 * M) for i in range(6)] + [
        report_factory("fire", minutes=7), alert_factory("alarm", minutes=8), alert_factory("alarm", minutes=9)]
    whole = run(IncidentEngine(sample_grid_index), stream)

    first = IncidentEngine(sample_grid_index)
    part = run(first, stream[:4])
    restored_state = EngineState.from_json(json.loads(json.dumps(first.state.to_json())))
    part.update(run(IncidentEngine(sample_grid_index, state=restored_state), stream[4:]))
    assert part == whole


def test_engine_reads_no_clock_same_input_same_output(sample_grid_index: GridIndex) -> None:
    stream = [alert_factory("parking", minutes=i, dlon=(i % 2) * 40 * M) for i in range(10)]
    a = run(IncidentEngine(sample_grid_index), stream)
    b = run(IncidentEngine(sample_grid_index), stream)
    assert a == b and len(a) == 2
