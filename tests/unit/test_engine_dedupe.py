"""The ids the engine remembers to drop re-sent copies (ingest/engine/dedupe.py): forgotten exactly
when last seen before the horizon, whatever order their times came in; and in the engine, a copy
re-sent within the dedupe horizon is a duplicate, one re-sent after it is new evidence."""

from __future__ import annotations

import random

import pytest

from gridwatch.contracts import Alert
from ingest.engine import IncidentEngine
from ingest.engine.dedupe import SLICE_S, SeenIds
from ingest.grids import GridIndex

from .factories import alert_factory


def test_nothing_remembered_forgets_nothing() -> None:
    seen = SeenIds()
    seen.forget_before(1e9)
    seen.remember("a", 10.0)
    assert "a" in seen and len(seen) == 1


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_forgets_exactly_the_ids_last_seen_before_the_horizon(seed: int) -> None:
    """Against a plain dict: times out of order (up to three slices late), ids seen again, and
    horizons inside slices, on their borders and far ahead."""
    rng = random.Random(seed)
    seen, model = SeenIds(), {}
    t, horizon = 1.7e9, 1.7e9 - 86400
    for step in range(6000):
        t += rng.uniform(0, 40)
        at = t - rng.uniform(0, 3 * SLICE_S) if rng.random() < 0.2 else t
        observation_id = f"o-{rng.randrange(step + 1)}" if rng.random() < 0.1 else f"o-{step}"
        seen.remember(observation_id, at)
        model[observation_id] = at
        if rng.random() < 0.02:
            horizon = rng.choice([t - 3600, t - 3600 - (t % SLICE_S), t + 10 * SLICE_S * rng.random()])
            seen.forget_before(horizon)
            model = {i: s for i, s in model.items() if s >= horizon}
            assert len(seen) == len(model)
            assert all(i in seen for i in model)


def test_a_copy_within_the_horizon_is_a_duplicate_and_after_it_new(sample_grid_index: GridIndex) -> None:
    alarm = alert_factory("alarm")
    engine = IncidentEngine(sample_grid_index)
    engine.process(alarm)
    assert engine.process(Alert.model_validate(alarm.model_dump())).outcomes[0].duplicate
    engine.process(alert_factory("alarm", minutes=25 * 60, dlat=0.01))  # a day and an hour later, elsewhere
    resent = engine.process(Alert.model_validate(alarm.model_dump()))
    assert not resent.outcomes[0].duplicate
