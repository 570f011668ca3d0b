"""Camera picture health on synthetic frames: frozen, black, undecodable, offline; one alert per
episode, repeats while it lasts, an end when it clears (pure, no clock)."""

from __future__ import annotations

import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import cv2
import numpy as np
import pytest

from edge.camera_health import CameraHealth, FrameLook
from edge.cameras import CameraUnit
from edge.config import CameraConfig, CameraHealthConfig, SiteConfig
from edge.metrics import EdgeMetrics

T0 = datetime(2026, 9, 9, 6, 0, tzinfo=timezone.utc)
CONFIG = CameraHealthConfig(frozen_after_s=30, black_after_s=20, undecodable_after_s=15, repeat_s=600)
RNG = np.random.default_rng(7)


def at(s: float) -> datetime:
    return T0 + timedelta(seconds=s)


def scene(seed: int, noise: float = 0.0) -> np.ndarray:
    """A textured 320x240 picture; ``noise`` adds sensor-like grain of that many grey levels."""
    base = np.random.default_rng(seed).integers(40, 220, (30, 40, 3), dtype=np.uint8)
    image = cv2.resize(base, (320, 240), interpolation=cv2.INTER_NEAREST).astype(np.float32)
    if noise:
        image += RNG.normal(0, noise, image.shape)
    return np.clip(image, 0, 255).astype(np.uint8)


def black(level: int = 3) -> np.ndarray:
    return np.full((240, 320, 3), level, np.uint8)


def health(offline_after_s: float = 60) -> CameraHealth:
    return CameraHealth("cam-1", CONFIG, offline_after_s, started=T0)


def run(h: CameraHealth, frames: list[tuple[float, np.ndarray]], until: float | None = None) -> list[tuple[float, str, str, str]]:
    """Feed frames (time, image), asking ``due`` once a second; (t, type, fault, phase) of each decision."""
    out = []
    by_second = {round(t): img for t, img in frames}
    end = until if until is not None else max(by_second)
    for s in range(int(end) + 1):
        if s in by_second:
            h.frame(at(s), FrameLook.of(by_second[s]))
        for d in h.due(at(s)):
            out.append((s, d.type, d.attributes.get("fault", "-"), d.phase))
    return out


def test_identical_frames_raise_one_frozen_fault_and_end_when_the_picture_moves() -> None:
    still = scene(1)
    frames = [(s, still) for s in range(50)] + [(s, scene(s)) for s in range(50, 60)]
    assert run(health(), frames) == [(30, "camera_fault", "frozen", "start"), (50, "camera_fault", "frozen", "end")]


def test_a_still_scene_with_sensor_noise_is_not_frozen() -> None:
    assert run(health(), [(s, scene(1, noise=4.0)) for s in range(90)]) == []


def test_a_black_picture_is_a_black_fault_not_a_frozen_one() -> None:
    frames = [(s, black()) for s in range(45)] + [(s, scene(s)) for s in range(45, 50)]
    assert run(health(), frames) == [(20, "camera_fault", "black", "start"), (45, "camera_fault", "black", "end")]


def test_a_dark_but_not_black_picture_is_fine() -> None:
    frames = [(s, scene(s) // 6 + 20) for s in range(40)]  # night: mean luminance ~40
    assert run(health(), frames) == []


def test_source_that_opens_but_never_decodes_is_undecodable_not_offline() -> None:
    h = health(offline_after_s=10)
    decisions = []
    for s in range(40):
        if s % 5 == 0:  # the reader reopens it every few seconds
            h.opened(at(s))
        decisions += [(s, d.type, d.attributes["fault"], d.phase) for d in h.due(at(s))]
    assert decisions == [(15, "camera_fault", "undecodable", "start")]
    h.frame(at(40), FrameLook.of(scene(2)))
    assert [(d.attributes["fault"], d.phase) for d in h.due(at(40))] == [("undecodable", "end")]
    assert h.state() == "ok"


def test_unreachable_source_is_camera_offline_with_repeats_and_an_end() -> None:
    h = health(offline_after_s=10)
    decisions = [(s, d.type, d.phase) for s in range(0, 1300) for d in h.due(at(s))]
    assert decisions == [(10, "camera_offline", "start"), (610, "camera_offline", "update"),
                         (1210, "camera_offline", "update")]
    assert h.state() == "offline"
    h.opened(at(1300))
    h.frame(at(1300), FrameLook.of(scene(3)))
    [end] = h.due(at(1300))
    assert (end.type, end.phase, end.category) == ("camera_offline", "end", "device")
    assert end.episode == "camera_offline/offline/1" and end.attributes["since"] == "2026-09-09T06:00:00.000Z"
    assert end.attributes["duration_s"] == 1300.0


def test_each_episode_gets_its_own_number() -> None:
    h = health()
    episodes = []
    for s in range(0, 200):
        image = black() if (s // 50) % 2 == 0 else scene(s)  # black 0-49, fine 50-99, black 100-149 ...
        h.frame(at(s), FrameLook.of(image))
        episodes += [(d.episode, d.phase) for d in h.due(at(s))]
    assert episodes == [("camera_fault/black/1", "start"), ("camera_fault/black/1", "end"),
                        ("camera_fault/black/2", "start"), ("camera_fault/black/2", "end")]


def test_camera_unit_turns_a_broken_file_into_an_undecodable_alert(tmp_path: Path) -> None:
    """A real reader on an AVI whose header opens but whose frame data is zeroed."""
    good = tmp_path / "good.avi"
    writer = cv2.VideoWriter(str(good), cv2.VideoWriter_fourcc(*"MJPG"), 10, (64, 48))
    for i in range(10):
        writer.write(np.full((48, 64, 3), 20 * i, np.uint8))
    writer.release()
    data = bytearray(good.read_bytes())
    movi = data.find(b"movi") + 4
    data[movi:] = bytes(len(data) - movi)
    (tmp_path / "broken.avi").write_bytes(bytes(data))

    camera = CameraConfig(id="cam-broken", source="broken.avi", lat=37.86, lon=112.55,
                          health={"undecodable_after_s": 2})
    site = SiteConfig(site_id="site-1", lat=37.86, lon=112.55, cameras=[camera])
    metrics = EdgeMetrics()
    unit = CameraUnit.build(camera, site, tmp_path, lambda cam, when: None, metrics, sink=None, now=T0)  # type: ignore[arg-type]
    unit.start()
    try:
        deadline = time.monotonic() + 10
        while unit.reader.status().failed_reads == 0 and time.monotonic() < deadline:
            time.sleep(0.02)
    finally:
        unit.stop()
    status = unit.reader.status()
    assert status.frames == 0 and status.failed_reads >= 1 and status.last_open_at is not None
    [alert] = unit.check(status.last_open_at + timedelta(seconds=3))
    assert (alert.category, alert.type, alert.device_id) == ("device", "camera_fault", "cam-broken")
    assert alert.attributes["fault"] == "undecodable" and alert.attributes["phase"] == "start"
    assert metrics.registry.get_sample_value("gridwatch_edge_camera_read_failures_total", {"camera": "cam-broken"}) >= 1


@pytest.mark.parametrize("field", ["frozen_after_s", "black_after_s", "undecodable_after_s", "repeat_s"])
def test_thresholds_must_be_positive(field: str) -> None:
    with pytest.raises(ValueError, match=field):
        CameraHealthConfig(**{field: 0})


def test_repeats_must_come_within_the_ingest_device_window() -> None:
    with pytest.raises(ValueError, match="repeat_s"):
        CameraHealthConfig(repeat_s=7 * 3600)
