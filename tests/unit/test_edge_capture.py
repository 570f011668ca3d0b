"""Camera readers on local files: newest frame, looping, liveness callbacks, reopen on failure."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

import cv2
import numpy as np
import pytest

from edge.capture import CameraReader, resolve_source
from gridwatch.backoff import Backoff
from edge.config import CameraConfig
from edge.metrics import EdgeMetrics

CAMERA = CameraConfig(id="cam-1", source="unused", lat=37.86, lon=112.55)


def wait_for(check: Callable[[], bool], timeout_s: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout_s
    while not check():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


@pytest.fixture
def short_video(tmp_path: Path) -> Path:
    """Five 64x48 frames at 100 fps, each a different grey, so a loop shows as more than 5 frames."""
    path = tmp_path / "short.avi"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 100, (64, 48))
    for i in range(5):
        writer.write(np.full((48, 64, 3), 40 * i, np.uint8))
    writer.release()
    return path


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("rtsp://10.0.0.5:554/stream1", "rtsp://10.0.0.5:554/stream1"),
        ("http://cam/mjpg", "http://cam/mjpg"),
        ("video/gate.mp4", "/sites/video/gate.mp4"),
        ("../media/gate.mp4", "/media/gate.mp4"),
        ("/abs/gate.mp4", "/abs/gate.mp4"),
    ],
)
def test_relative_files_resolve_against_the_site_folder(source: str, expected: str) -> None:
    assert resolve_source(source, Path("/sites")) == expected


def test_file_loops_and_every_frame_marks_the_camera_seen(short_video: Path) -> None:
    seen: list[tuple[str, datetime]] = []
    metrics = EdgeMetrics()
    reader = CameraReader(CAMERA, str(short_video), lambda cam, at: seen.append((cam, at)), metrics)
    reader.start()
    try:
        assert wait_for(lambda: len(seen) > 12), "the 5-frame file should loop"
    finally:
        reader.stop()
    frame = reader.latest()
    assert frame is not None and frame.image.shape == (48, 64, 3)
    assert frame.index >= len(seen) - 1 and frame.at == max(at for _, at in seen)
    assert {cam for cam, _ in seen} == {"cam-1"}
    assert metrics.registry.get_sample_value("gridwatch_edge_camera_frames_total", {"camera": "cam-1"}) >= 12


def test_missing_source_is_retried_and_yields_no_frames(tmp_path: Path) -> None:
    metrics = EdgeMetrics()
    seen = threading.Event()
    reader = CameraReader(CAMERA, str(tmp_path / "missing.avi"), lambda cam, at: seen.set(), metrics,
                          delay=Backoff(initial_s=0.01, max_s=0.02, jitter=0))
    reader.start()
    try:
        reopens = lambda: metrics.registry.get_sample_value("gridwatch_edge_camera_reconnects_total", {"camera": "cam-1"})
        assert wait_for(lambda: (reopens() or 0) >= 3)
    finally:
        reader.stop()
    assert not seen.is_set()
    assert reader.latest() is None


def test_an_error_inside_the_reader_reopens_the_camera_instead_of_ending_its_thread(short_video: Path) -> None:
    metrics, seen, calls = EdgeMetrics(), threading.Event(), []

    def on_frame(cam: str, at: datetime) -> None:
        calls.append(at)
        if len(calls) == 1:
            raise RuntimeError("an OpenCV or callback error nobody expected")
        seen.set()

    reader = CameraReader(CAMERA, str(short_video), on_frame, metrics, delay=Backoff(initial_s=0.01, max_s=0.02, jitter=0))
    reader.start()
    try:
        assert seen.wait(10), "frames after the error"
        assert reader.running
    finally:
        reader.stop()
    assert not reader.running
    assert metrics.registry.get_sample_value("gridwatch_edge_camera_reader_errors_total", {"camera": "cam-1"}) == 1


def test_reconnect_delay_doubles_to_its_cap_and_resets() -> None:
    delay = Backoff(initial_s=1, max_s=30, jitter=0)
    assert [delay.next_delay() for _ in range(7)] == [1, 2, 4, 8, 16, 30, 30]
    delay.reset()
    assert delay.next_delay() == 1


def test_consumer_gets_the_newest_frame_and_replaced_frames_are_counted_as_dropped(short_video: Path) -> None:
    metrics = EdgeMetrics()
    reader = CameraReader(CAMERA, str(short_video), lambda cam, at: None, metrics, count_drops=True)
    reader.start()
    taken = []
    try:
        assert wait_for(lambda: reader.status().frames >= 20)  # nobody takes: all but the newest are dropped
        for _ in range(5):
            frame = reader.take(timeout_s=2.0)
            assert frame is not None
            taken.append(frame.index)
            again = reader.take()  # a frame is handed out once: the next take is None or a newer frame
            if again is not None:
                assert again.index > frame.index
                taken.append(again.index)
    finally:
        reader.stop()
    status = reader.status()
    assert taken == sorted(set(taken)) and taken[0] >= 20, "each take is the newest frame, never a backlog"
    untaken = 0 if reader.take() is None else 1
    assert status.frames == status.dropped + len(taken) + untaken, "every frame is taken, dropped or the newest"
    assert metrics.registry.get_sample_value("gridwatch_edge_camera_frames_dropped_total", {"camera": "cam-1"}) == status.dropped


def test_a_camera_without_a_consumer_counts_no_drops(short_video: Path) -> None:
    metrics = EdgeMetrics()
    reader = CameraReader(CAMERA, str(short_video), lambda cam, at: None, metrics)
    reader.start()
    try:
        assert wait_for(lambda: reader.status().frames >= 10)
    finally:
        reader.stop()
    assert reader.status().dropped == 0
    assert metrics.registry.get_sample_value("gridwatch_edge_camera_frames_dropped_total", {"camera": "cam-1"}) is None


def test_take_gives_up_after_its_timeout_when_no_frame_comes(tmp_path: Path) -> None:
    reader = CameraReader(CAMERA, str(tmp_path / "missing.avi"), lambda cam, at: None, EdgeMetrics(), count_drops=True)
    reader.start()
    try:
        assert reader.take(timeout_s=0.2) is None
    finally:
        reader.stop()
    assert reader.status().last_open_at is None and reader.status().frames == 0
