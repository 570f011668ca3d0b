"""When the ingest starts reading one message at a time (ingest/isolation.py): after batches fail
twice in a row on their data, never for an outage or a fault every message shares."""

from __future__ import annotations

import psycopg
import pytest
from kafka.errors import KafkaConnectionError

from ingest.isolation import Isolation, caused_by_data

REFUSED = psycopg.errors.InvalidTextRepresentation("invalid input syntax for type json")


@pytest.mark.parametrize(("error", "data"), [
    (REFUSED, True), (psycopg.errors.UniqueViolation("duplicate key"), True), (ValueError("x"), True),
    (psycopg.OperationalError("server closed the connection"), False), (KafkaConnectionError(), False),
    (ConnectionResetError(), False), (psycopg.errors.UndefinedColumn("column does not exist"), False),
])
def test_only_errors_about_the_data_count(error: BaseException, data: bool) -> None:
    assert caused_by_data(error) is data


def test_two_data_failures_in_a_row_start_reading_one_message_at_a_time_for_two_batches() -> None:
    isolation = Isolation(span=10)
    assert not isolation.failed(REFUSED) and not isolation.active
    assert isolation.failed(REFUSED) and isolation.active and isolation.left == 10
    for _ in range(10):
        isolation.read_one()
    assert not isolation.active


def test_a_written_batch_or_an_outage_between_failures_starts_the_count_again() -> None:
    isolation = Isolation(span=10)
    isolation.failed(REFUSED)
    isolation.written()
    assert not isolation.failed(REFUSED)
    assert not isolation.failed(psycopg.OperationalError("down"))
    assert not isolation.failed(REFUSED) and not isolation.active


def test_nothing_left_to_read_ends_it() -> None:
    isolation = Isolation(span=10)
    isolation.failed(REFUSED)
    isolation.failed(REFUSED)
    isolation.caught_up()
    assert not isolation.active
