"""Where an incident is and which grid holds it; what corroborates; when weak fire hits confirm."""

from __future__ import annotations

import math

from gridwatch.contracts import Incident, PatrolReport
from ingest.engine import IncidentEngine
from ingest.engine.geo import METRES_PER_DEG_LAT
from ingest.grids import GridIndex

from .factories import SITE_LAT, SITE_LON, alert_factory, report_factory

M = 1 / 111_195  # about one metre of latitude, in degrees
M_LON = M / math.cos(math.radians(SITE_LAT))
HOME = "YZ-S1-C2-G3-M1"  # the sample map's micro-grid around the site; its east border is 140-150 m away
EAST = "YZ-S2-C2-G1-M1"  # the micro-grid across that border (from 146 m east of the site)


def run(grids: GridIndex, stream: list) -> list[Incident]:
    engine = IncidentEngine(grids)
    for observation in stream:
        engine.process(observation)
    return engine.finish()


def test_distance_to_a_grid_is_zero_inside_and_metres_outside(sample_grid_index: GridIndex) -> None:
    assert sample_grid_index.distance_deg(HOME, SITE_LAT, SITE_LON) == 0.0
    outside = sample_grid_index.distance_deg(HOME, SITE_LAT, SITE_LON + 160 * M_LON) * METRES_PER_DEG_LAT
    assert 10.0 < outside <= 20.0


def test_a_report_filed_under_the_neighbouring_grid_across_a_border_keeps_it(sample_grid_index: GridIndex) -> None:
    across = report_factory("hazard", dlon=150 * M_LON, grid_id=HOME)  # the fix landed just across the border
    assert sample_grid_index.assign(across.lat, across.lon).grid_id != HOME
    (incident,) = run(sample_grid_index, [across])
    assert incident.grid_id == HOME and incident.grid_path[0] == HOME and incident.grid_path[-1] == "YZ"
    assert f"in grid {HOME} as filed by the patrol" in incident.history[0].reason


def test_a_stated_grid_far_from_the_fix_or_unknown_is_not_taken(sample_grid_index: GridIndex) -> None:
    far = report_factory("hazard", dlon=300 * M_LON, grid_id=HOME)  # 150 m past the border: 10 sigma
    (incident,) = run(sample_grid_index, [far])
    assert incident.grid_id == sample_grid_index.assign(far.lat, far.lon).grid_id != HOME
    unknown = report_factory("hazard", minutes=600, grid_id="NO-SUCH-GRID")
    (incident,) = run(sample_grid_index, [unknown])
    assert incident.grid_id == HOME


def prefilled(grids: GridIndex, metres_east: float, **kw: object) -> PatrolReport:
    """A report filed under the grid the patrol app pre-filled from its fix, left as it was."""
    grid = grids.assign(SITE_LAT, SITE_LON + metres_east * M_LON).grid_id
    return report_factory(dlon=metres_east * M_LON, grid_id=grid, **kw)


def test_grids_prefilled_from_fixes_either_side_of_a_border_are_decided_by_the_position(
        sample_grid_index: GridIndex) -> None:
    # the sharper fix places the hazard, whichever side of the border it is on (not the smaller grid id)
    for sharp_at, vague_at, expected in ((140, 155, HOME), (152, 137, EAST)):
        stream = [prefilled(sample_grid_index, sharp_at, category="hazard", accuracy_m=5),
                  prefilled(sample_grid_index, vague_at, category="hazard", minutes=60, accuracy_m=30)]
        (incident,) = run(sample_grid_index, stream)
        assert len(incident.report_ids) == 2 and incident.grid_id == expected
        assert "as filed by the patrol" not in incident.history[0].reason


def test_a_prefilled_grid_does_not_outvote_the_cameras_a_correction_does(sample_grid_index: GridIndex) -> None:
    # five cameras place the fire 4 m inside HOME
    fire = [alert_factory("fire", minutes=i, dlon=141 * M_LON, device_id=f"cam-{i}") for i in range(5)]
    across = prefilled(sample_grid_index, 160, category="fire", minutes=6)  # fix 15 m across, EAST kept
    assert across.grid_id == EAST  # type: ignore[attr-defined]
    (incident,) = run(sample_grid_index, [*fire, across])
    assert incident.report_ids == [across.id] and incident.grid_id == HOME
    # a fix inside HOME filed under EAST is a correction: the worker saw the fire across the border
    corrected = report_factory("fire", minutes=6, dlon=130 * M_LON, grid_id=EAST)
    (incident,) = run(sample_grid_index, [*fire, corrected])
    assert incident.report_ids == [corrected.id] and incident.grid_id == EAST
    assert f"in grid {EAST} as filed by the patrol" in incident.history[0].reason


def test_a_corroborating_alarm_does_not_move_the_fire(sample_grid_index: GridIndex) -> None:
    fire = alert_factory("fire", confidence=0.9)
    button = alert_factory("alarm", minutes=1, dlat=30 * M, device_id="btn-1", confidence=1.0)
    (incident,) = run(sample_grid_index, [fire, button])
    assert incident.alert_ids == [fire.id, button.id]
    assert (incident.lat, incident.lon) == (round(fire.lat, 7), round(fire.lon, 7))


def test_a_weak_hit_that_only_an_alarm_press_confirmed_is_placed_by_the_press(sample_grid_index: GridIndex) -> None:
    weak = alert_factory("fire", confidence=0.4)  # alone: not a fire (below 0.6, one hit)
    presses = [alert_factory("alarm", minutes=1 + i, dlat=30 * M, device_id="btn-1", confidence=1.0) for i in range(2)]
    (incident,) = run(sample_grid_index, [weak, *presses])
    assert incident.category == "fire" and incident.alert_ids == [weak.id, *(p.id for p in presses)]
    assert abs(metres_from_site(incident) - 30.0) < 2.0  # at the button (3 m) rather than the hit (10 m)


def test_an_alarm_corroborates_only_within_its_own_reach(sample_grid_index: GridIndex) -> None:
    # 40 m plus a button's 3 m and a fire camera's 10 m: 50 m joins, 60 m is a separate call for help
    for metres, incidents in ((50, 1), (60, 2)):
        stream = [alert_factory("fire"), alert_factory("alarm", minutes=1, dlat=metres * M, device_id="btn-1")]
        assert len(run(sample_grid_index, stream)) == incidents
    # two buttons 60 m apart pressed for one call still link (alarm radius 60 m)
    presses = [alert_factory("alarm", device_id="btn-1"), alert_factory("alarm", minutes=1, dlat=60 * M, device_id="btn-2")]
    assert len(run(sample_grid_index, presses)) == 1


def test_two_weak_fire_hits_are_not_a_fire_three_are(sample_grid_index: GridIndex) -> None:
    weak = [alert_factory("fire", minutes=i * 3, confidence=0.45) for i in range(3)]
    assert run(sample_grid_index, weak[:2]) == []
    (incident,) = run(sample_grid_index, weak)
    assert len(incident.alert_ids) == 3


def crowd_at(minutes: float, metres_north: float, confidence: float = 0.7) -> object:
    return alert_factory("crowd", minutes=minutes, dlat=metres_north * M, confidence=confidence)


def metres_from_site(incident: Incident) -> float:
    return math.hypot((incident.lat - SITE_LAT) / M, (incident.lon - SITE_LON) / M_LON)


def test_stray_detections_linked_at_the_edge_do_not_move_the_incident(sample_grid_index: GridIndex) -> None:
    crowd = [crowd_at(2 * i, (-1) ** i * 0.5) for i in range(8)]  # the gathering, placed within a metre
    strays = [crowd_at(3, 45, 0.4), crowd_at(5, 46, 0.4)]  # weak hits 45 m off: inside the crowd radius, 9 sigmas out
    (incident,) = run(sample_grid_index, crowd + strays)
    assert sorted(incident.alert_ids) == sorted(a.id for a in crowd + strays)  # they still join ...
    assert metres_from_site(incident) < 1.0  # ... but do not place it (their mean would be 9 m north)


def test_members_within_their_errors_all_place_the_incident(sample_grid_index: GridIndex) -> None:
    # no member beyond 3 sigma of the mean: the plain precision-weighted mean, outliers or not by eye
    crowd = [crowd_at(0, 0), crowd_at(2, 0), crowd_at(4, 12)]  # 12 m north: 8 m from the mean, under 3 x 5 m
    (incident,) = run(sample_grid_index, crowd)
    assert abs(metres_from_site(incident) - 4.0) < 0.05


def test_two_members_far_apart_are_averaged(sample_grid_index: GridIndex) -> None:
    # two patrol fixes 55 m apart (each 15 m): which one is off cannot be told, so the incident is between them
    stream = [report_factory("hazard"), report_factory("hazard", minutes=60, dlat=55 * M, accuracy_m=15)]
    (incident,) = run(sample_grid_index, stream)
    assert len(incident.report_ids) == 2 and abs(metres_from_site(incident) - 27.5) < 0.05
