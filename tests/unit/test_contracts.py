import json
from datetime import datetime, timedelta, timezone

import pytest
from pydantic import ValidationError

from gridwatch.contracts import Alert, PatrolReport, format_time, parse_observation

CONTRACT_ALERT = {
    "kind": "alert", "id": "a-7f3c", "category": "fire", "type": "smoke", "device_id": "cam-0012",
    "site_id": "yz-jinsong-01", "lat": 37.8614259, "lon": 112.553341, "observed_at": "2026-09-09T06:08:08.622Z",
    "confidence": 0.87, "attributes": {"zone": "fire-lane-1", "track_id": "cam-0012:415", "count": 23},
}


def test_contract_example_round_trips_with_the_same_fields() -> None:
    alert = Alert.model_validate(CONTRACT_ALERT)
    assert json.loads(alert.to_json()) == CONTRACT_ALERT


def test_times_are_normalised_to_utc_with_z() -> None:
    alert = Alert.model_validate({**CONTRACT_ALERT, "observed_at": "2026-09-09T14:08:08.622+08:00"})
    assert alert.observed_at == datetime(2026, 9, 9, 6, 8, 8, 622000, tzinfo=timezone.utc)
    assert json.loads(alert.to_json())["observed_at"] == "2026-09-09T06:08:08.622Z"


@pytest.mark.parametrize("value, text", [
    (datetime(2026, 9, 9, 6, 8, 8, 622000, tzinfo=timezone.utc), "2026-09-09T06:08:08.622Z"),
    (datetime(2026, 9, 9, 6, 8, 8, 999999, tzinfo=timezone.utc), "2026-09-09T06:08:08.999Z"),  # truncated
    (datetime(2026, 9, 9, 6, 8, 8, tzinfo=timezone.utc), "2026-09-09T06:08:08.000Z"),
    (datetime(2026, 9, 9, 14, 8, 8, 1000, tzinfo=timezone(timedelta(hours=8))), "2026-09-09T06:08:08.001Z"),
    (datetime(2026, 1, 1, 0, 30, tzinfo=timezone(timedelta(hours=1))), "2025-12-31T23:30:00.000Z"),
])
def test_format_time_is_utc_with_milliseconds_and_z(value: datetime, text: str) -> None:
    assert format_time(value) == text
    utc = value.astimezone(timezone.utc)  # the plain formula it replaces
    assert format_time(value) == utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"


def test_fields_added_by_other_tiers_pass_through() -> None:
    alert = Alert.model_validate({**CONTRACT_ALERT, "snapshot": "snap/1.jpg"})
    assert json.loads(alert.to_json())["snapshot"] == "snap/1.jpg"


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"observed_at": "2026-09-09T06:08:08"}, "observed_at"),  # no time zone
        ({"lat": 91.0}, "lat"),
        ({"lon": -181.0}, "lon"),
        ({"confidence": 1.5}, "confidence"),
        ({"category": "Fire Alarm"}, "category"),
        ({"id": ""}, "id"),
    ],
)
def test_invalid_alerts_name_the_field(change: dict, field: str) -> None:
    with pytest.raises(ValidationError) as err:
        Alert.model_validate({**CONTRACT_ALERT, **change})
    assert {e["loc"][0] for e in err.value.errors()} == {field}


def test_parse_observation_dispatches_on_kind() -> None:
    report = {"kind": "report", "id": "r-1", "category": "hazard", "worker_id": "w-017", "lat": 37.86,
              "lon": 112.55, "reported_at": "2026-09-09T07:15:00Z", "text": "loose receiver", "photos": []}
    assert isinstance(parse_observation(report), PatrolReport)
    assert isinstance(parse_observation(CONTRACT_ALERT), Alert)
    with pytest.raises(ValueError, match="kind must be"):
        parse_observation({**CONTRACT_ALERT, "kind": "incident"})
    with pytest.raises(ValueError, match="kind must be"):
        parse_observation({})
