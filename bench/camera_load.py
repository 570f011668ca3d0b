"""N live cameras on one core: does each keep its 2 frames per second?

Each camera has its own ``edge.capture.CameraReader`` reading its own copy of the video in real
time (the file's own frame rate, looping, newest frame kept) and its own ``CameraDetectors``
(its own model session, tracker and rules), driven by a thread that takes the reader's newest
frame once per ``every_s`` of wall time. A slot that comes while the previous frame is still being
processed is dropped (a stale frame is worse than a skipped one), as a live edge would. The whole
process is pinned to one core, readers' decoding included. The claim holds only if every camera
keeps at least ``0.95 / every_s`` frames per second.

    .venv/bin/python -m bench.camera_load --cameras 4 --seconds 60
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import structlog

from detectors.config import CameraDetectorsConfig
from detectors.pipeline import CameraDetectors, zone_rules_from_config
from detectors.types import TimedFrame
from edge.capture import CameraReader
from edge.config import CameraConfig
from edge.metrics import EdgeMetrics

HOLD_SHARE = 0.95  # 1.9 of 2 fps


def pin_to_core(core: int) -> None:
    """Run this process (and every thread it starts later) on one core only; keep readers' info
    logs ("camera opened") out of the printed table."""
    os.sched_setaffinity(0, {core})
    os.environ["OMP_NUM_THREADS"] = "1"  # before torch or onnxruntime start a pool
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))


def uptime() -> str:
    one, five, fifteen = os.getloadavg()
    return f"load average {one:.2f}, {five:.2f}, {fifteen:.2f}"


@dataclass
class CameraLoad:
    """What one camera's detection thread did."""

    camera_id: str
    processed: int = 0
    dropped: int = 0  # 2-fps slots that passed while the camera was still busy
    stale: int = 0  # slots where the reader had no newer frame than the last one processed
    busy_s: float = 0.0


def drive(cam: CameraDetectors, reader: CameraReader, load: CameraLoad, every_s: float, until: float,
          start: threading.Event) -> None:
    """Process the reader's newest frame once per ``every_s`` until ``until`` (monotonic)."""
    start.wait()
    began = time.monotonic()
    slot, last_index = began, -1
    while slot < until:
        time.sleep(max(0.0, slot - time.monotonic()))
        frame = reader.latest()
        if frame is not None:
            load.stale += frame.index == last_index
            last_index = frame.index
            t0 = time.monotonic()
            cam.process(TimedFrame(frame.image, t0 - began, wall=frame.at))
            load.processed += 1
            load.busy_s += time.monotonic() - t0
        slot += every_s
        late = time.monotonic() - slot
        if late > 0:  # slots that passed while processing: skipped, not queued
            missed = int(late // every_s) + 1
            load.dropped += missed
            slot += missed * every_s


def run_cameras(n: int, camera: CameraConfig, detectors: CameraDetectorsConfig, video: Path, seconds: float,
                every_s: float) -> bool:
    """Run ``n`` cameras for ``seconds``; print each camera's fps and drops; True if all held."""
    metrics = EdgeMetrics()
    rules = zone_rules_from_config(camera.zones)
    config = detectors.model_copy(update={"frame_rate": 1.0 / every_s})
    cams = [CameraDetectors.build(config, rules) for _ in range(n)]  # models loaded before the clock starts
    readers = [CameraReader(camera.model_copy(update={"id": f"cam-{i}"}), str(video), lambda *_: None, metrics)
               for i in range(n)]
    loads = [CameraLoad(f"cam-{i}") for i in range(n)]
    for reader in readers:
        reader.start()
    while any(r.latest() is None for r in readers):
        time.sleep(0.05)
    start, until = threading.Event(), time.monotonic() + seconds
    threads = [threading.Thread(target=drive, args=(c, r, ld, every_s, until, start), daemon=True)
               for c, r, ld in zip(cams, readers, loads)]
    cpu0, wall0 = time.process_time(), time.monotonic()
    for t in threads:
        t.start()
    start.set()
    for t in threads:
        t.join()
    cpu, wall = time.process_time() - cpu0, time.monotonic() - wall0
    for reader in readers:
        reader.stop()
    return report(loads, seconds, every_s, cpu, wall)


def report(loads: list[CameraLoad], seconds: float, every_s: float, cpu_s: float, wall_s: float) -> bool:
    """Per-camera fps and drops; also what a processed frame cost the core (readers' decoding of
    every frame included), which says how many cameras a core of its own would carry."""
    need = HOLD_SHARE / every_s
    processed = sum(ld.processed for ld in loads)
    per_frame = cpu_s / processed if processed else 0.0
    print(f"\nlive: {len(loads)} cameras x {1 / every_s:g} fps on one core for {seconds:g} s; "
          f"process got {cpu_s / wall_s:.0%} of the core; {uptime()}")
    if per_frame:
        print(f"  process CPU per processed frame {per_frame * 1e3:.0f} ms (decoding of all frames included): "
              f"a core of its own would carry {1 / per_frame / (1 / every_s):.2f} cameras at {1 / every_s:g} fps")
    print(f"{'camera':<8} {'fps':>6} {'processed':>9} {'dropped':>7} {'stale':>5} {'busy ms/frame':>13}")
    for ld in loads:
        per = ld.busy_s / ld.processed * 1e3 if ld.processed else 0.0
        print(f"{ld.camera_id:<8} {ld.processed / seconds:>6.2f} {ld.processed:>9} {ld.dropped:>7} {ld.stale:>5} {per:>13.0f}")
    held = all(ld.processed / seconds >= need for ld in loads)
    print(f"  every camera >= {need:.2f} fps: {'yes' if held else 'NO'}")
    return held


def main() -> int:
    from bench.detector_fps import CAMERA, VTEST
    from gridwatch.configfile import load_yaml_model

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cameras", type=int, default=4)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--core", type=int, default=0)
    parser.add_argument("--every-s", type=float, default=0.5)
    args = parser.parse_args()
    pin_to_core(args.core)
    camera = load_yaml_model(CAMERA, CameraConfig)
    detectors = camera.detectors or CameraDetectorsConfig()
    detectors = detectors.model_copy(update={"backend": detectors.backend.model_copy(update={"threads": 1})})
    print(f"camera_load: {detectors.backend.type} threads=1 on core {args.core}; {uptime()}")
    held = run_cameras(args.cameras, camera, detectors, VTEST, args.seconds, args.every_s)
    return 0 if held else 1


if __name__ == "__main__":
    sys.exit(main())
