"""Detector speed on one core: frames per second per camera for each backend and input size.

Each case (a COCO backend at one input size, or the fire model at one size beside the COCO model)
runs on one core (the process pinned with ``sched_setaffinity``, every backend with ``threads: 1``,
so ONNX Runtime runs on the calling thread and torch uses one thread), over a video sampled at
2 fps of video time exactly as ``gridwatch detect`` reads it (every frame grabbed, the sampled
ones decoded to BGR):

- baseline: the plain per-frame predict loop: each sampled frame decoded and given to the
  model(s), nothing else (no motion gating, tracking or rules);
- pipeline: ``CameraDetectors.process`` (motion gate, detection, ByteTrack, crowd/parking rules,
  fire at its own interval), the code the edge and ``gridwatch detect`` run, on the same frames.

It prints frames per second, per-stage ms (median and p95, over the frames where the stage ran),
the share of frames the motion gate skipped, cameras at 2 fps one core sustains (fps / 2) and the
pipeline's ratio against the baseline. Figures are given twice: on the wall clock (what this run
got of a core shared with other work) and on the thread's CPU clock (what the work costs a core of
its own); ``uptime`` load is printed beside them. Then ``bench.camera_load`` runs N cameras live on
the same core (see there): the claim holds only if each keeps >= 1.9 fps.

    .venv/bin/python -m bench.detector_fps --cameras 4
    .venv/bin/python -m bench.detector_fps --only 'centernet-*' --frames 60 --cameras 0   # quick look

Target (issue 4): at least 4 cameras at 2 fps per core with the ONNX COCO model.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from fnmatch import fnmatch
from pathlib import Path

import numpy as np

from bench.camera_load import CAMERA_FILE, pin_to_core, run_cameras, uptime
from bench.media import MEDIA, VTEST
from detectors.backends import (
    Backend,
    BackendConfig,
    CenterNetConfig,
    NanoDetConfig,
    UltralyticsConfig,
    build_backend,
)
from detectors.config import CameraDetectorsConfig, FireDetectorConfig
from detectors.pipeline import STAGES, CameraDetectors, zone_rules_from_config
from detectors.types import TimedFrame
from edge.alerts import EPOCH
from edge.config import CameraConfig
from edge.detect import DetectSummary, file_frames, open_capture
from gridwatch.configfile import load_yaml_model

FIRE_VIDEO = MEDIA / "fire" / "furg_video" / "house6.mp4"
EVERY_S = 0.5  # 2 fps of video time
TARGET_CAMERAS = 4
COLUMNS = ("decode",) + STAGES


@dataclass(frozen=True)
class Case:
    """One row: a camera config (its COCO backend, maybe a fire model) over one video."""

    name: str
    video: Path
    detectors: CameraDetectorsConfig


@dataclass
class Run:
    """Per-frame timings of one pass over a case's frames (seconds, wall and thread CPU)."""

    frames: int = 0
    wall_s: float = 0.0
    cpu_s: float = 0.0
    detected: int = 0
    stage_wall: dict[str, list[float]] = field(default_factory=lambda: {s: [] for s in COLUMNS})
    stage_cpu: dict[str, list[float]] = field(default_factory=lambda: {s: [] for s in COLUMNS})

    def add(self, stage: str, wall: float, cpu: float) -> None:
        self.stage_wall[stage].append(wall)
        self.stage_cpu[stage].append(cpu)

    def fps(self, cpu: bool) -> float:
        spent = self.cpu_s if cpu else self.wall_s
        return self.frames / spent if spent > 0 else 0.0


def clocks() -> tuple[float, float]:
    return time.perf_counter(), time.thread_time()


def timed_frames(video: Path, limit: int | None, run: Run) -> Iterator[TimedFrame]:
    """``gridwatch detect``'s sampled frames, with the time spent reading each one recorded as decode."""
    capture = open_capture(str(video))
    try:
        frames = file_frames(capture, EVERY_S, EPOCH, DetectSummary(), local=lambda at: at)
        while limit is None or run.frames < limit:
            w0, c0 = clocks()
            item = next(frames, None)
            w1, c1 = clocks()
            if item is None:
                return
            run.add("decode", w1 - w0, c1 - c0)
            run.frames += 1
            yield item[0]
    finally:
        capture.release()


def measure(video: Path, limit: int | None, step: Callable[[TimedFrame, Run], None]) -> Run:
    run = Run()
    w0, c0 = clocks()
    for frame in timed_frames(video, limit, run):
        step(frame, run)
    w1, c1 = clocks()
    run.wall_s, run.cpu_s = w1 - w0, c1 - c0
    return run


def baseline(case: Case, models: list[Backend], limit: int | None) -> Run:
    """Decode, predict with every model the camera runs, nothing else."""

    def step(frame: TimedFrame, run: Run) -> None:
        w0, c0 = clocks()
        for model in models:
            model.detect(frame.image)
        w1, c1 = clocks()
        run.add("detect", w1 - w0, c1 - c0)
        run.detected += 1

    return measure(case.video, limit, step)


def pipeline(case: Case, camera: CameraConfig, models: list[Backend], limit: int | None) -> Run:
    cam = CameraDetectors(case.detectors, zone_rules_from_config(camera.zones), models[0],
                          models[1] if len(models) > 1 else None)

    def step(frame: TimedFrame, run: Run) -> None:
        result = cam.process(frame)
        for stage in STAGES:
            ran = {"detect": result.detected, "track": result.detected,
                   "fire": result.fire_detections is not None}.get(stage, True)
            if ran:
                run.add(stage, result.times.wall[stage], result.times.cpu[stage])

    run = measure(case.video, limit, step)
    run.detected = cam.stats.detected
    return run


def one_thread(config: BackendConfig) -> BackendConfig:
    return config.model_copy(update={"threads": 1})


def cases(camera: CameraConfig, only: list[str] | None) -> list[Case]:
    """Every backend x input size the models accept; the fire model beside CenterNet 512."""
    base = (camera.detectors or CameraDetectorsConfig()).model_copy(update={"frame_rate": 1.0 / EVERY_S})
    coco: list[tuple[str, BackendConfig]] = [
        ("centernet-512", CenterNetConfig()),
        ("centernet-512x384", CenterNetConfig(input_size=512, input_height=384)),  # vtest's 4:3
        *[(f"centernet-{s}", CenterNetConfig(input_size=s)) for s in (416, 320)],
        *[(f"nanodet-{s}", NanoDetConfig(input_size=s)) for s in (416, 320)],
    ]
    out = [Case(name, VTEST, base.model_copy(update={"backend": one_thread(b)})) for name, b in coco]
    for size in (640, 320):
        fire = FireDetectorConfig(backend=one_thread(UltralyticsConfig(model="yolov8s-fire-smoke",
                                                                       confidence=0.35, imgsz=size)))
        detectors = base.model_copy(update={"backend": one_thread(CenterNetConfig()), "fire": fire})
        for label, video in (("vtest", VTEST), ("house6", FIRE_VIDEO)):
            out.append(Case(f"cn512+fire-{size} {label}", video, detectors))
    return [c for c in out if not only or any(fnmatch(c.name, o) for o in only)]


def load_models(case: Case, warmup: int = 3) -> list[Backend]:
    """The case's models, each run ``warmup`` times on the video's first frame first (the first
    calls allocate buffers and, for ultralytics, build the predictor: not what a camera pays)."""
    d = case.detectors
    models = [build_backend(d.backend)] + ([build_backend(d.fire.backend)] if d.fire else [])
    first = next(timed_frames(case.video, 1, Run()))
    for model in models:
        for _ in range(warmup):
            model.detect(first.image)
    return models


def ms(values: list[float]) -> str:
    if not values:
        return "-"
    return f"{statistics.median(values) * 1e3:.1f}/{float(np.percentile(values, 95)) * 1e3:.1f}"


def row(name: str, base: Run, pipe: Run, cpu: bool) -> str:
    fps, base_fps = pipe.fps(cpu), base.fps(cpu)
    skipped = 1 - pipe.detected / pipe.frames if pipe.frames else 0.0
    stages = pipe.stage_cpu if cpu else pipe.stage_wall
    cells = " ".join(f"{ms(stages[s]):>11}" for s in COLUMNS)
    return (f"{name:<24} {pipe.frames:>5} {base_fps:>8.2f} {fps:>8.2f} {fps / base_fps if base_fps else 0:>6.2f} "
            f"{fps / 2:>6.2f} {skipped:>6.0%} {cells}")


def header() -> str:
    stages = " ".join(f"{s + ' ms':>11}" for s in COLUMNS)
    return f"{'case':<24} {'frames':>5} {'base fps':>8} {'pipe fps':>8} {'ratio':>6} {'cams':>6} {'gated':>6} {stages}"


def report(results: list[tuple[str, Run, Run]]) -> None:
    for cpu in (False, True):
        clock = "thread CPU clock (a core of its own)" if cpu else "wall clock (this run's share of the core)"
        print(f"\n{clock}; cams = pipeline fps / 2; stage ms = median/p95 over frames where it ran")
        print(header())
        for name, base, pipe in results:
            print(row(name, base, pipe, cpu))


def default_case(all_cases: list[Case]) -> str | None:
    """The name of the case that runs a camera's default COCO backend (``CameraDetectorsConfig``)."""
    default = one_thread(CameraDetectorsConfig().backend)
    return next((c.name for c in all_cases if c.detectors.backend == default and c.detectors.fire is None), None)


def verdict(results: list[tuple[str, Run, Run]], default: str | None) -> None:
    for name, _, pipe in results:
        if "fire" in name:
            continue
        label = f"{name} (default)" if name == default else name
        for cpu in (False, True):
            cams = pipe.fps(cpu) / 2
            clock = "CPU" if cpu else "wall"
            state = "met" if cams >= TARGET_CAMERAS else f"MISSED ({cams / TARGET_CAMERAS:.0%} of it)"
            print(f"  {label:<28} {clock:<4} {cams:5.2f} cameras at 2 fps per core: target {TARGET_CAMERAS} {state}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--core", type=int, default=0, help="CPU core to pin the whole process to")
    parser.add_argument("--frames", type=int, default=None, help="stop each pass after this many sampled frames")
    parser.add_argument("--only", nargs="*", help="run only cases whose name matches one of these (shell patterns: 'centernet-*')")
    parser.add_argument("--cameras", type=int, default=TARGET_CAMERAS, help="live cameras to check (0: skip)")
    parser.add_argument("--seconds", type=float, default=60.0, help="length of the live multi-camera check")
    parser.add_argument("--live", nargs="*", default=["centernet-512", "centernet-512x384", "nanodet-320"],
                        help="cases whose camera config the live check runs, one after the other")
    args = parser.parse_args()
    pin_to_core(args.core)
    camera = load_yaml_model(CAMERA_FILE, CameraConfig)
    print(f"detector_fps on core {args.core} of {os.cpu_count()}; {uptime()}; {datetime.now():%Y-%m-%d %H:%M:%S}")
    results = []
    all_cases = cases(camera, args.only)
    for case in all_cases:
        models = load_models(case)
        base = baseline(case, models, args.frames)
        pipe = pipeline(case, camera, models, args.frames)
        results.append((case.name, base, pipe))
        print(f"  done {case.name}: {pipe.frames} frames; {uptime()}", flush=True)
    report(results)
    print(f"\n{uptime()}")
    verdict(results, default_case(all_cases))
    if args.cameras > 0:
        live = {c.name: c for c in cases(camera, None)}
        for name in args.live:
            ok = run_cameras(args.cameras, camera, live[name].detectors, VTEST, args.seconds, EVERY_S)
            print(f"  live check: {args.cameras} cameras at 2 fps on one core with {name}: {'held' if ok else 'NOT held'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
