"""422 messages a person can read: one line naming each bad field."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from api.errors import field_errors, summarize
from api.schemas import PatrolReportCreate


def test_summary_names_each_field_without_the_body_prefix() -> None:
    errors: list[dict[str, Any]] = [{"loc": ["body", "lat"], "msg": "Input should be less than or equal to 90"},
              {"loc": ["query", "status", 1], "msg": "Input should be 'open'"}]
    assert summarize(errors) == (
        "2 problems: lat: Input should be less than or equal to 90; query.status.1: Input should be 'open'"
    )


def test_summary_of_a_body_that_is_not_json() -> None:
    assert summarize([{"loc": ["body"], "msg": "Invalid JSON"}]) == "1 problem: body: Invalid JSON"


def test_field_errors_have_fastapi_shape_and_are_json_safe() -> None:
    with pytest.raises(ValidationError) as caught:
        PatrolReportCreate.model_validate_json(b'{"category": "fier", "worker_id": "w", "lat": 1, "lon": 2}')
    errors = field_errors(caught.value)
    assert errors == [{"type": "value_error", "loc": ["body", "category"], "msg": errors[0]["msg"]}]
    assert "unknown category 'fier'" in errors[0]["msg"]
