"""The live feed's cursor: rows that commit out of seq order are still delivered, exactly once per
connection, and the resume point never passes an undelivered row. Times are passed in, not waited."""

from __future__ import annotations

from api.feedcursor import OutboxCursor


def test_empty_poll_changes_nothing() -> None:
    cursor = OutboxCursor(watermark=5)
    assert cursor.advance([], now=0.0) == []
    assert cursor.watermark == 5


def test_contiguous_rows_are_sent_and_the_watermark_follows() -> None:
    cursor = OutboxCursor(watermark=0)
    assert cursor.advance([1, 2, 3], now=0.0) == [1, 2, 3]
    assert cursor.watermark == 3
    assert cursor.sent_above_watermark == frozenset()


def test_late_commit_below_a_sent_row_is_still_delivered() -> None:
    cursor = OutboxCursor(watermark=9, gap_grace_s=30)
    assert cursor.advance([11, 12], now=0.0) == [11, 12]
    assert cursor.watermark == 9  # a reconnect resumes before the hole
    assert cursor.advance([10, 11, 12], now=1.0) == [10]
    assert cursor.watermark == 12


def test_rows_already_sent_are_not_sent_again() -> None:
    cursor = OutboxCursor(watermark=0)
    cursor.advance([2], now=0.0)
    assert cursor.advance([2, 3], now=1.0) == [3]
    assert cursor.sent_above_watermark == frozenset({2, 3})


def test_a_hole_that_never_fills_is_passed_after_the_grace_period() -> None:
    cursor = OutboxCursor(watermark=0, gap_grace_s=10)
    cursor.advance([2], now=100.0)
    cursor.advance([], now=109.9)
    assert cursor.watermark == 0
    cursor.advance([], now=110.0)
    assert cursor.watermark == 2
    assert cursor.sent_above_watermark == frozenset()


def test_each_hole_waits_from_when_it_was_first_seen() -> None:
    cursor = OutboxCursor(watermark=0, gap_grace_s=10)
    cursor.advance([2], now=0.0)  # hole at 1
    cursor.advance([4], now=5.0)  # hole at 3, first seen at 5
    cursor.advance([], now=10.0)
    assert cursor.watermark == 2  # 1 expired, 3 not yet
    cursor.advance([], now=15.0)
    assert cursor.watermark == 4


def test_rows_at_or_below_the_watermark_are_ignored() -> None:
    cursor = OutboxCursor(watermark=7)
    assert cursor.advance([5, 7, 8], now=0.0) == [8]
