"""How many cameras one core sustains through the edge camera pipeline, beside a plain predict loop.

    python -m bench.camera_pipeline [--cameras 4] [--seconds 30] [--fps 2] [--threads 1]

Baseline (same run, same model, same threads): one thread reads ../shared/media/video/vtest.avi and
calls the CenterNet backend on every 5th frame (2 fps of the 10 fps file) as fast as it can: decode
and detect milliseconds, CPU seconds per detected frame.

Pipeline: ``--cameras`` edge ``CameraUnit``s on that file (camera config from
configs/cameras/vtest-sample.yaml), each with its reader thread (decoding every frame at the file's
rate, as a live camera would be decoded) and its detection worker at ``--fps``, alerts and
snapshots into a counting sink, for ``--seconds`` of wall time. Printed: frames processed per
camera per second against the target rate, frames dropped, per-stage milliseconds from the
workers' own histograms, and CPU seconds per processed frame (process CPU over the run, readers
included), from which cameras per core at ``--fps`` = 1 / (CPU per frame x fps).

The machine is shared: the load average is printed beside every figure, and the ratio against the
baseline measured in the same run is what to compare between runs.
"""

from __future__ import annotations

import argparse
import os
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import cv2

from detectors.backends import CenterNetConfig, build_backend
from edge.cameras import CameraUnit
from edge.config import CameraConfig, SiteConfig
from edge.metrics import EdgeMetrics
from gridwatch.configfile import load_yaml_model
from gridwatch.contracts import Alert
from gridwatch.snapshot import Snapshot

REPO = Path(__file__).resolve().parents[1]
CAMERA_FILE = REPO / "configs" / "cameras" / "vtest-sample.yaml"
STEP = 5  # every 5th frame of the 10 fps file: 2 fps


def load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"load {one:.2f} {five:.2f} {fifteen:.2f} on {os.cpu_count()} CPUs"


@dataclass
class CountingSink:
    alerts: int = 0
    snapshots: int = 0
    snapshot_bytes: int = 0

    def publish_alert(self, alert: Alert) -> int:
        self.alerts += 1
        return self.alerts

    def publish_snapshot(self, snapshot: Snapshot) -> int:
        self.snapshots += 1
        self.snapshot_bytes += len(snapshot.jpeg)
        return self.snapshots


def baseline(source: str, frames: int, threads: int) -> dict[str, float]:
    """The plain loop: read, and predict on every STEP-th frame."""
    backend = build_backend(CenterNetConfig(threads=threads))
    capture = cv2.VideoCapture(source)
    decode_s = detect_s = 0.0
    done, index = 0, 0
    cpu0 = time.process_time()
    while done < frames:
        t0 = time.perf_counter()
        ok, image = capture.read()
        decode_s += time.perf_counter() - t0
        if not ok:
            capture.set(cv2.CAP_PROP_POS_FRAMES, 0)
            continue
        index += 1
        if index % STEP:
            continue
        t1 = time.perf_counter()
        backend.detect(image)
        detect_s += time.perf_counter() - t1
        done += 1
    cpu = time.process_time() - cpu0
    capture.release()
    return {"decode_ms_per_frame": 1000 * decode_s / index, "detect_ms": 1000 * detect_s / done,
            "cpu_s_per_detected_frame": cpu / done}


def camera_config(source: str, fps: float, threads: int, index: int) -> CameraConfig:
    base = load_yaml_model(CAMERA_FILE, CameraConfig)
    detectors = base.detectors.model_copy(update={  # type: ignore[union-attr]
        "frame_rate": fps, "backend": CenterNetConfig(threads=threads)})
    return base.model_copy(update={"id": f"cam-{index}", "source": source, "detectors": detectors})


def pipeline(source: str, cameras: int, seconds: float, fps: float, threads: int) -> dict[str, object]:
    configs = [camera_config(source, fps, threads, i) for i in range(cameras)]
    site = SiteConfig(site_id="bench", lat=37.86, lon=112.55, cameras=configs)
    metrics, sink = EdgeMetrics(), CountingSink()
    now = datetime.now(timezone.utc)
    units = [CameraUnit.build(c, site, REPO, lambda cam, at: None, metrics, sink, now) for c in configs]
    cpu0, wall0 = time.process_time(), time.perf_counter()
    for unit in units:
        unit.start()
    time.sleep(seconds)
    for unit in units:
        unit.stop()
    cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
    sample = metrics.registry.get_sample_value
    processed = sum(u.worker.stats.processed for u in units if u.worker)
    stages = {}
    for stage in ("frame_age", "detect", "snapshot", "spool"):
        total = sum(sample("gridwatch_edge_camera_stage_seconds_sum", {"camera": c.id, "stage": stage}) or 0 for c in configs)
        count = sum(sample("gridwatch_edge_camera_stage_seconds_count", {"camera": c.id, "stage": stage}) or 0 for c in configs)
        stages[stage] = 1000 * total / count if count else 0.0
    return {
        "per_camera_fps": [round(u.worker.stats.processed / wall, 2) for u in units if u.worker],
        "dropped": sum(u.reader.status().dropped for u in units),
        "decoded": sum(u.reader.status().frames for u in units),
        "skipped_by_motion": sum(u.worker.stats.skipped for u in units if u.worker),
        "processed": processed, "alerts": sink.alerts, "snapshot_kb": sink.snapshot_bytes / max(1, sink.snapshots) / 1024,
        "stage_ms": stages, "cpu_s_per_processed_frame": cpu / max(1, processed), "wall_s": wall,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cameras", type=int, default=4)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--fps", type=float, default=2.0)
    parser.add_argument("--threads", type=int, default=1, help="ONNX Runtime threads per model")
    parser.add_argument("--source", default=str(REPO.parent / "shared" / "media" / "video" / "vtest.avi"))
    args = parser.parse_args()
    print(f"before: {load()}")
    base = baseline(args.source, 40, args.threads)
    print(f"baseline plain loop (40 frames, threads={args.threads}): decode {base['decode_ms_per_frame']:.1f} ms/frame, "
          f"detect {base['detect_ms']:.1f} ms, {base['cpu_s_per_detected_frame'] * 1000:.0f} ms CPU per detected frame "
          f"(its {STEP} decoded frames included) -> "
          f"{1 / (base['cpu_s_per_detected_frame'] * args.fps):.1f} cameras/core at {args.fps:g} fps; {load()}")
    run = pipeline(args.source, args.cameras, args.seconds, args.fps, args.threads)
    stage = run["stage_ms"]
    cpu = float(run["cpu_s_per_processed_frame"])  # type: ignore[arg-type]
    print(f"pipeline {args.cameras} cameras x {args.fps:g} fps for {run['wall_s']:.0f} s: per camera "
          f"{run['per_camera_fps']} fps processed (target {args.fps:g}), {run['processed']} processed, "
          f"{run['skipped_by_motion']} motion-skipped, {run['decoded']} decoded, {run['dropped']} dropped; "
          f"{run['alerts']} alerts, snapshots {run['snapshot_kb']:.0f} KB avg; {load()}")
    print(f"  stage ms (mean): frame age {stage['frame_age']:.1f}, detect+track+rules {stage['detect']:.1f}, "
          f"snapshot {stage['snapshot']:.1f}, spool {stage['spool']:.2f}")
    print(f"  {cpu * 1000:.0f} ms CPU per processed frame (readers' decoding included) -> "
          f"{1 / (cpu * args.fps):.1f} cameras/core at {args.fps:g} fps; "
          f"ratio to the plain loop's CPU per frame: {cpu / base['cpu_s_per_detected_frame']:.2f}")


if __name__ == "__main__":
    main()
