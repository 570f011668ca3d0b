"""The link mirror: only links not written yet go to the database, and only after a commit."""

from __future__ import annotations

from datetime import timedelta

from gridwatch.contracts import Incident
from ingest.linkmirror import LinkMirror

from .factories import T0


def incident_factory(incident_id: str, alert_ids: list[str], report_ids: list[str] | None = None) -> Incident:
    return Incident(id=incident_id, category="fire", grid_id="G1", risk="red", lat=37.86, lon=112.55, first_seen=T0,
                    last_seen=T0 + timedelta(minutes=1), alert_ids=alert_ids, report_ids=report_ids or [])


def test_first_sight_links_every_member() -> None:
    links = LinkMirror().changed([incident_factory("i-1", ["a-1", "a-2"], ["r-1"])])
    assert links == {"alerts": [("a-1", "i-1"), ("a-2", "i-1")], "reports": [("r-1", "i-1")]}


def test_remembered_links_are_not_written_again_only_new_members_are() -> None:
    mirror = LinkMirror()
    mirror.remember(mirror.changed([incident_factory("i-1", ["a-1", "a-2"])]))
    assert mirror.changed([incident_factory("i-1", ["a-1", "a-2", "a-3"])]) == {"alerts": [("a-3", "i-1")],
                                                                               "reports": []}


def test_a_member_moving_to_another_incident_is_written() -> None:
    mirror = LinkMirror()
    mirror.remember(mirror.changed([incident_factory("i-1", ["a-1"])]))
    assert mirror.changed([incident_factory("i-2", ["a-1"])])["alerts"] == [("a-1", "i-2")]


def test_a_member_listed_twice_goes_with_the_later_incident() -> None:
    links = LinkMirror().changed([incident_factory("i-1", ["a-1"]), incident_factory("i-2", ["a-1", "a-2"])])
    assert links["alerts"] == [("a-1", "i-2"), ("a-2", "i-2")]


def test_not_remembered_without_commit_and_forgotten_after_a_failed_batch() -> None:
    mirror = LinkMirror()
    incident = incident_factory("i-1", ["a-1"])
    mirror.changed([incident])  # the transaction never committed: nothing remembered
    assert mirror.changed([incident])["alerts"] == [("a-1", "i-1")]
    mirror.remember(mirror.changed([incident]))
    mirror.forget()
    assert len(mirror) == 0 and mirror.changed([incident])["alerts"] == [("a-1", "i-1")]


def test_past_its_limit_the_mirror_starts_again() -> None:
    mirror = LinkMirror(limit=3)
    mirror.remember({"alerts": [("a-1", "i-1"), ("a-2", "i-1")], "reports": []})
    mirror.remember({"alerts": [("a-3", "i-1"), ("a-4", "i-1")], "reports": []})
    assert len(mirror) == 2 and mirror.changed([incident_factory("i-1", ["a-1", "a-4"])])["alerts"] == [("a-1", "i-1")]


def test_no_incidents_no_links() -> None:
    assert LinkMirror().changed([]) == {"alerts": [], "reports": []}
