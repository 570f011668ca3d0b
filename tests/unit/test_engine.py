"""The incident engine, rule by rule (pure: no servers, no clock)."""

from __future__ import annotations

import gc
import random
from datetime import timedelta

import pytest

from bench.scenario import generate
from gridwatch.contracts import Alert, Incident, event_time
from ingest.engine import EngineConfig, IncidentEngine, incident_id_for
from ingest.grids import GridIndex
from ingest.replay import ReplaySummary, replay

from .factories import alert_factory, report_factory

M = 1 / 111_195  # about one metre of latitude, in degrees


def run(grids: GridIndex, stream: list, config: EngineConfig | None = None) -> list[Incident]:
    engine = IncidentEngine(grids, config)
    for observation in stream:
        engine.process(observation)
    return engine.finish()


def cam(i: int) -> dict:
    return {"device_id": f"cam-{i}"}


def test_several_cameras_and_a_patrol_seeing_one_fire_make_one_incident(sample_grid_index: GridIndex) -> None:
    first = alert_factory("fire", **cam(1))
    stream = [first, alert_factory("fire", minutes=1, dlat=30 * M, **cam(2)),
              alert_factory("fire", minutes=2, dlon=60 * M, **cam(3)), report_factory("fire", minutes=10, dlat=40 * M)]
    (incident,) = run(sample_grid_index, stream)
    assert incident.id == incident_id_for(first.id)
    assert (len(incident.alert_ids), len(incident.report_ids), incident.risk) == (3, 1, "red")
    assert incident.grid_id == "YZ-S1-C2-G3-M1" and incident.grid_path[-1] == "YZ"
    assert [m.rule for m in incident.members] == ["first", "near", "near", "near"]
    assert incident.members[3].gap_s == 480.0 and 61 < incident.members[3].distance_m < 63  # cam-3, the latest before it


def test_a_button_pressed_five_times_is_one_call(sample_grid_index: GridIndex) -> None:
    presses = [alert_factory("alarm", minutes=i * 0.2, type="alarm_button", device_id="btn-1") for i in range(5)]
    (incident,) = run(sample_grid_index, presses)
    assert len(incident.alert_ids) == 5 and incident.risk == "orange"
    assert {m.rule for m in incident.members[1:]} == {"same_device"}


def test_an_empty_batch_changes_nothing(sample_grid_index: GridIndex) -> None:
    engine = IncidentEngine(sample_grid_index)
    engine.process(alert_factory("alarm"))
    for publish in (True, False):
        result = engine.process_batch([], publish=publish)
        assert (result.outcomes, result.touched, result.merged, result.expired) == ([], {}, {}, [])
    assert len(engine.finish()) == 1


def test_the_same_alert_twice_counts_once(sample_grid_index: GridIndex) -> None:
    alarm = alert_factory("alarm")
    engine = IncidentEngine(sample_grid_index)
    engine.process(alarm)
    again = engine.process(Alert.model_validate(alarm.model_dump()))
    assert again.outcomes[0].duplicate and not again.touched
    assert engine.finish()[0].alert_ids == [alarm.id]


def test_two_cars_in_neighbouring_bays_stay_two_incidents(sample_grid_index: GridIndex) -> None:
    def car(track: str, dlon: float, minutes: float) -> Alert:
        return alert_factory("parking", minutes=minutes, dlon=dlon, device_id="cam-7",
                             attributes={"track_id": f"cam-7:{track}", "zone": "fire-lane-1", "zone_kind": "fire_lane"})

    stream = [car("1", 0, 0), car("2", 3 * M, 1), car("1", 0, 5), car("2", 3 * M, 6)]
    incidents = run(sample_grid_index, stream)
    assert sorted(len(i.alert_ids) for i in incidents) == [2, 2]
    assert all(m.rule == "same_track" for i in incidents for m in i.members[1:])
    assert {i.risk for i in incidents} == {"yellow"}  # a blocked fire lane


def test_the_same_place_on_two_evenings_is_two_incidents(sample_grid_index: GridIndex) -> None:
    stream = [report_factory("hazard"), report_factory("hazard", minutes=24 * 60)]
    assert len(run(sample_grid_index, stream)) == 2


def test_a_second_patrol_report_of_a_hazard_an_hour_later_joins(sample_grid_index: GridIndex) -> None:
    stream = [report_factory("hazard"), report_factory("hazard", minutes=60, dlat=25 * M)]
    (incident,) = run(sample_grid_index, stream)
    assert len(incident.report_ids) == 2


def test_position_uncertainty_widens_the_match(sample_grid_index: GridIndex) -> None:
    far = 70 * M  # beyond the hazard radius plus two default report errors (30 + 15 + 15)
    assert len(run(sample_grid_index, [report_factory("hazard"), report_factory("hazard", minutes=5, dlat=far)])) == 2
    vague = report_factory("hazard", minutes=5, dlat=far, accuracy_m=30)
    assert len(run(sample_grid_index, [report_factory("hazard"), vague])) == 1


def test_an_alarm_near_an_open_fire_corroborates_it(sample_grid_index: GridIndex) -> None:
    stream = [alert_factory("fire"), alert_factory("alarm", minutes=2, dlat=20 * M, device_id="btn-1")]
    (incident,) = run(sample_grid_index, stream)
    assert incident.category == "fire" and incident.members[1].rule == "corroborates"


def test_other_categories_and_far_places_stay_apart(sample_grid_index: GridIndex) -> None:
    stream = [alert_factory("fire"), alert_factory("fire", dlat=500 * M, **cam(2)), report_factory("dispute")]
    assert len(run(sample_grid_index, stream)) == 3


@pytest.mark.parametrize(
    ("stream", "confirmed"),
    [
        ([alert_factory("crowd", confidence=0.6)], False),  # a single weak hit
        ([alert_factory("crowd", minutes=i * 0.1, confidence=0.7) for i in range(5)], False),  # a 24 s burst
        ([alert_factory("crowd", minutes=i, confidence=0.6) for i in range(3)], True),  # repeated over 2 min
        ([alert_factory("crowd", confidence=0.6, **cam(1)), alert_factory("crowd", confidence=0.6, **cam(2))], True),
        ([alert_factory("crowd", confidence=0.6), report_factory("crowd", minutes=3)], True),  # corroborated
        ([alert_factory("crowd", confidence=0.97)], True),  # a sure detection
        ([alert_factory("fire", confidence=0.4)], False),
        ([alert_factory("fire", confidence=0.65)], True),  # fire is raised at once
        ([alert_factory("alarm", confidence=1.0)], True),
        ([], False),
    ],
)
def test_confirmation(sample_grid_index: GridIndex, stream: list, confirmed: bool) -> None:
    assert bool(run(sample_grid_index, stream)) is confirmed


def test_unconfirmed_alerts_expire(sample_grid_index: GridIndex) -> None:
    engine = IncidentEngine(sample_grid_index)
    weak = alert_factory("crowd", confidence=0.5)
    engine.process(weak)
    later = EngineConfig().rule("crowd").window_s / 60 + EngineConfig().lateness_s / 60 + 2
    result = engine.process(alert_factory("alarm", minutes=later, dlat=900 * M))
    assert result.expired == [weak.id]
    assert [i.category for i in engine.finish()] == ["alarm"]


def _busy_stream() -> list:
    stream = []
    for k in range(6):
        stream += [alert_factory("fire", minutes=k * 40 + j, dlat=(j % 3) * 25 * M, **cam(j % 2)) for j in range(4)]
        stream += [alert_factory("crowd", minutes=k * 30 + j, dlon=300 * M, confidence=0.6) for j in range(3)]
        stream.append(report_factory("fire", minutes=k * 40 + 5, dlat=60 * M))
        stream.append(alert_factory("alarm", minutes=k * 40 + 2, dlat=-50 * M, device_id="btn-1"))
        stream.append(alert_factory("parking", minutes=k * 7, dlon=-400 * M, device_id="cam-9",
                                    attributes={"track_id": f"t{k % 2}"}))
    return stream


def test_arrival_order_within_the_lateness_does_not_change_the_incidents(sample_grid_index: GridIndex) -> None:
    stream = _busy_stream()  # spans four hours
    config = EngineConfig(lateness_s=5 * 3600)
    expected = run(sample_grid_index, sorted(stream, key=event_time), config)
    assert len(expected) >= 12
    for seed in range(5):
        shuffled = stream[:]
        random.Random(seed).shuffle(shuffled)
        assert run(sample_grid_index, shuffled, config) == expected


def test_an_edge_box_back_from_an_outage_changes_nothing(sample_grid_index: GridIndex) -> None:
    """One camera's last hour and a half of alerts arrives in a burst after everything else (within
    the default two hours of lateness)."""
    stream = sorted(_busy_stream(), key=event_time)
    outage_from = event_time(stream[-1]) - timedelta(minutes=90)
    spooled = [o for o in stream if getattr(o, "device_id", None) == "cam-0" and event_time(o) >= outage_from]
    late = [o for o in stream if o not in spooled] + spooled
    assert spooled and late != stream
    assert run(sample_grid_index, late) == run(sample_grid_index, stream)


def test_a_late_earlier_member_renames_the_incident_and_reports_the_merge(sample_grid_index: GridIndex) -> None:
    engine = IncidentEngine(sample_grid_index)
    on_time = alert_factory("alarm", minutes=10)
    first = engine.process(on_time)
    late = alert_factory("alarm", minutes=5)
    second = engine.process(late)
    assert list(first.touched) == [incident_id_for(on_time.id)]
    assert second.merged == {incident_id_for(on_time.id): incident_id_for(late.id)}
    assert list(second.touched) == [incident_id_for(late.id)]


def test_an_observation_bridging_two_incidents_merges_them(sample_grid_index: GridIndex) -> None:
    engine = IncidentEngine(sample_grid_index)
    a, b = report_factory("hazard"), report_factory("hazard", minutes=1, dlat=90 * M)
    engine.process_batch([a, b])
    bridge = engine.process(report_factory("hazard", minutes=2, dlat=45 * M))
    assert bridge.merged == {incident_id_for(b.id): incident_id_for(a.id)}
    assert len(bridge.touched[incident_id_for(a.id)].report_ids) == 3


@pytest.mark.parametrize(
    ("status", "newcomer", "incidents", "reopened"),
    [
        ("resolved", "alert", 1, True),
        ("dismissed", "alert", 1, False),  # the same detector again: stays dismissed
        ("dismissed", "report", 1, True),  # a person saw it: reopen
        ("closed", "alert", 2, False),  # the loop was closed: a new incident
        ("assigned", "alert", 1, False),
    ],
)
def test_dispatcher_status_decides_what_new_evidence_does(
    sample_grid_index: GridIndex, status: str, newcomer: str, incidents: int, reopened: bool
) -> None:
    engine = IncidentEngine(sample_grid_index)
    first = engine.process(alert_factory("fire"))
    (incident_id,) = first.touched
    engine.sync_status({incident_id: status})
    new = alert_factory("fire", minutes=5, **cam(2)) if newcomer == "alert" else report_factory("fire", minutes=5)
    result = engine.process(new)
    assert (incident_id in result.reopened) is reopened
    assert len(engine.finish()) == incidents


def test_crowd_size_raises_the_risk(sample_grid_index: GridIndex) -> None:
    big = [alert_factory("crowd", minutes=i, attributes={"count": 90}) for i in range(3)]
    assert run(sample_grid_index, big)[0].risk == "red"


def test_outside_every_grid_is_kept_and_flagged(sample_grid_index: GridIndex) -> None:
    (incident,) = run(sample_grid_index, [report_factory("hazard", lat=10.0, lon=10.0)])
    assert incident.grid_id is None and incident.outside_grid and "outside every grid" in incident.history[0].reason


def _district() -> tuple[GridIndex, list]:
    """A small simulated district (bench/scenario.py): every category, re-sent copies, late bursts."""
    scenario = generate(7, days=1, sites=8, events_per_day=60)
    return scenario.grid_index(), scenario.observations


def test_a_simulated_district_gives_the_same_incidents_in_any_arrival_order_within_the_lateness() -> None:
    grids, observations = _district()
    expected = replay(observations, IncidentEngine(grids), ReplaySummary())
    assert len(expected) >= 20 and max(len(i.members) for i in expected) >= 5
    for seed in range(3):
        rng = random.Random(seed)  # each observation up to an hour late: well within the two hours of lateness
        shuffled = sorted(observations, key=lambda o: event_time(o).timestamp() + rng.uniform(0, 3600))
        assert shuffled != observations
        assert replay(shuffled, IncidentEngine(grids), ReplaySummary(), chunk=97) == expected


def test_the_live_path_batch_by_batch_and_replay_give_the_same_incidents() -> None:
    grids, observations = _district()
    live = IncidentEngine(grids)
    published: dict[str, Incident] = {}
    for start in range(0, len(observations), 25):
        result = live.process_batch(observations[start:start + 25])
        for old in result.merged:
            published.pop(old, None)
        published.update(result.touched)
    incidents = live.finish()
    assert incidents == replay(observations, IncidentEngine(grids), ReplaySummary())
    # what the live path published last for each incident is what replay computes in the end
    final = {i.id: i for i in incidents}
    assert published and all(final[k] == v for k, v in published.items() if k in final)


def test_replay_leaves_the_garbage_collector_as_it_found_it() -> None:
    grids, observations = _district()
    assert gc.isenabled()
    replay(observations[:50], IncidentEngine(grids), ReplaySummary())
    assert gc.isenabled()
