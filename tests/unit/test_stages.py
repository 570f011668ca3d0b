"""The ingest's stage clock: sums per stage, shares, and a clear error for an unknown stage."""

from __future__ import annotations

import pytest
from prometheus_client import CollectorRegistry

from ingest.stages import STAGES, StageClock


def test_shares_are_each_stage_over_the_total() -> None:
    clock = StageClock()
    clock.add("engine", 3.0)
    clock.add("poll", 1.0)
    clock.add("engine", 4.0)
    shares = clock.shares()
    assert shares["engine"] == pytest.approx(0.875) and shares["poll"] == pytest.approx(0.125)
    assert set(shares) == set(STAGES) and shares["outbox"] == 0.0


def test_empty_clock_has_zero_shares_and_reset_clears() -> None:
    clock = StageClock()
    assert set(clock.shares().values()) == {0.0}
    clock.add("decode", 2.0)
    clock.reset()
    assert sum(clock.seconds.values()) == 0.0


def test_stage_block_is_counted_and_observed_in_the_histogram() -> None:
    registry = CollectorRegistry()
    clock = StageClock.create(registry)
    with clock.stage("decode"):
        sum(range(1000))
    assert clock.seconds["decode"] > 0.0
    assert registry.get_sample_value("gridwatch_ingest_stage_seconds_count", {"stage": "decode"}) == 1.0


def test_unknown_stage_is_refused_by_name() -> None:
    with pytest.raises(ValueError, match="unknown ingest stage 'engien'"):
        with StageClock().stage("engien"):
            pass
