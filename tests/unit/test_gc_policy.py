import gc

import pytest

from gridwatch.settings import Settings
from ingest.gc_policy import apply_gc_threshold


@pytest.fixture
def restore_gc():
    before = gc.get_threshold()
    yield
    gc.set_threshold(*before)


def test_the_young_generation_threshold_is_set_and_the_older_ones_kept(restore_gc):
    gc.set_threshold(700, 11, 12)
    previous = apply_gc_threshold(50_000)
    assert previous == (700, 11, 12)
    assert gc.get_threshold() == (50_000, 11, 12)
    assert gc.isenabled()


def test_zero_would_turn_the_collector_off_and_is_refused(restore_gc):
    with pytest.raises(ValueError, match="at least 1"):
        apply_gc_threshold(0)


def test_the_ingest_setting_defaults_above_cpythons_and_rejects_zero(monkeypatch):
    assert Settings().ingest.gc_threshold == 50_000
    monkeypatch.setenv("GRIDWATCH_INGEST__GC_THRESHOLD", "0")
    with pytest.raises(ValueError, match="gc_threshold"):
        Settings()


def test_run_ingest_applies_the_setting_before_it_builds_anything(monkeypatch, restore_gc):
    import ingest.service as service

    class Built(Exception):
        pass

    def stop_here(*_args, **_kwargs):
        raise Built(gc.get_threshold()[0])

    monkeypatch.setattr(service, "build_escalator", stop_here)
    monkeypatch.setenv("GRIDWATCH_INGEST__GC_THRESHOLD", "12345")
    with pytest.raises(Built) as raised:
        service.run_ingest(Settings())
    assert raised.value.args == (12345,)
