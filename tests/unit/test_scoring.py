"""The scenario generator's ground truth and the scores computed against it (bench/)."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

from bench.scenario import Event, Scenario, generate, grid_map
from bench.scoring import Scores, score
from gridwatch.contracts import Incident, PatrolReport
from gridwatch.gridmap import parse_grid_map
from ingest.grids import GridIndex

T = datetime(2026, 9, 7, 8, tzinfo=timezone.utc)


def incident(i: int, alerts: list[str], grid: str) -> Incident:
    return Incident(id=f"i-{i}", category="fire", grid_id=grid, risk="red", lat=37.86, lon=112.55,
                    first_seen=T, last_seen=T, alert_ids=alerts, report_ids=[])


def test_precision_counts_an_event_with_a_stray_false_hit_as_one_event_strict_does_not() -> None:
    grids = GridIndex(parse_grid_map(grid_map(), Path("scenario")))
    home = grids.assign(37.86, 112.55).grid_id
    events = {e: Event(e, "fire", 37.86, 112.55, T) for e in ("e1", "e2")}
    truth = {"a1": "e1", "a2": None, "a3": "e1", "a4": "e2", "a5": "e2", "a6": None}
    scenario = Scenario(grid_map(), [], truth, events)
    incidents = [incident(1, ["a1", "a2"], home), incident(2, ["a3"], home), incident(3, ["a4", "a5"], "elsewhere"),
                 incident(4, ["a6"], home)]
    s = score(incidents, scenario, grids)
    assert (s.precision, s.strict_precision) == (3 / 4, 2 / 4)
    assert s.duplication == 3 / 2 and s.recall == 1.0 and s.grid_accuracy == 2 / 3


def test_scores_pool_by_their_counts_not_by_averaging_the_ratios() -> None:
    small = Scores(incidents=10, events=10, true_incidents=9, strict_incidents=9, recalled=10, covered=9, right_grid=9)
    large = Scores(incidents=990, events=990, true_incidents=980, strict_incidents=970, recalled=980, covered=980,
                   right_grid=975)
    pooled = small + large
    assert pooled.incidents == 1000 and pooled.precision == 989 / 1000
    assert pooled.grid_accuracy == 984 / 989 and pooled.recall == 990 / 1000 and pooled.duplication == 1.0


def test_reports_are_filed_under_a_grid_and_correction_only_changes_wrong_guesses() -> None:
    guessed, corrected = generate(5, events_per_day=60, grid_correction=0.0), generate(5, events_per_day=60)
    grids = GridIndex(parse_grid_map(grid_map(), Path("scenario")))
    pairs = [(a, b) for a, b in zip(guessed.observations, corrected.observations) if isinstance(a, PatrolReport)]
    assert pairs and all(a.id == b.id for a, b in pairs)
    for by_fix, filed in pairs:
        assert by_fix.model_extra["grid_id"] == grids.assign(by_fix.lat, by_fix.lon).grid_id
        truth = guessed.events[guessed.truth[by_fix.id]]
        assert filed.model_extra["grid_id"] in (by_fix.model_extra["grid_id"], grids.assign(truth.lat, truth.lon).grid_id)
    assert any(a.model_extra["grid_id"] != b.model_extra["grid_id"] for a, b in pairs)
