"""End-to-end latency: a one-key alarm press on MQTT until its incident shows it in the API.

Runs against the real stack: either one it starts itself (`gridwatch up` in a temporary data
folder) or one already running (`--api URL --mqtt-port N`). Each press uses GridWatch's button
payload with a unique ``pressed_at``, so the bench can find exactly its alert, then the incident
that holds it. Prints median, p95 and max over ``--presses`` presses.

    .venv/bin/python bench/e2e_latency.py --presses 100
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path
from urllib.parse import quote

import httpx
import paho.mqtt.client as mqtt

REPO = Path(__file__).resolve().parents[1]
BUTTON_ID = "btn-block1-lobby"
BUTTON_TOPIC = f"gridwatch/yz-jinsong-01/buttons/{BUTTON_ID}"


def wait_for(check, timeout_s: float, every_s: float = 0.005, what: str = "condition"):  # noqa: ANN001, ANN201
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(every_s)
    raise TimeoutError(f"no {what} within {timeout_s} s")


def start_stack(data_dir: Path, api_port: int) -> subprocess.Popen:
    cmd = [sys.executable, "-m", "gridwatch.cli", "up", "--data-dir", str(data_dir), "--api-port", str(api_port)]
    return subprocess.Popen(cmd, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def press(client: mqtt.Client) -> str:
    pressed_at = datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    payload = {"event": "press", "press": "single", "pressed_at": pressed_at}
    client.publish(BUTTON_TOPIC, json.dumps(payload), qos=1).wait_for_publish(5)
    return pressed_at


def incident_holding(http: httpx.Client, pressed_at: str) -> bool:
    alerts = http.get(f"/v1/alerts?device_id={BUTTON_ID}&since={quote(pressed_at)}").json()
    items = alerts["items"] if isinstance(alerts, dict) else alerts
    mine = [a for a in items if a.get("observed_at") == pressed_at and a.get("incident_id")]
    if not mine:
        return False
    incident = http.get(f"/v1/incidents/{mine[0]['incident_id']}")
    return incident.status_code == 200 and mine[0]["id"] in incident.json()["alert_ids"]


def measure(api: str, mqtt_port: int, presses: int, gap_s: float) -> list[float]:
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"bench-{os.getpid()}")
    client.connect("127.0.0.1", mqtt_port)
    client.loop_start()
    latencies = []
    with httpx.Client(base_url=api, timeout=10) as http:
        wait_for(lambda: http.get("/healthz").status_code == 200, 300, 0.5, "healthy API")
        for _ in range(presses):
            t0 = time.perf_counter()
            pressed_at = press(client)
            wait_for(lambda: incident_holding(http, pressed_at), 60, what="incident with the press")
            latencies.append(time.perf_counter() - t0)
            time.sleep(gap_s)
    client.loop_stop()
    client.disconnect()
    return latencies


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--presses", type=int, default=100)
    parser.add_argument("--gap", type=float, default=0.2, help="seconds between presses")
    parser.add_argument("--api", default=None, help="URL of a running API; default: start `gridwatch up`")
    parser.add_argument("--mqtt-port", type=int, default=1883)
    parser.add_argument("--api-port", type=int, default=8080)
    args = parser.parse_args()
    stack = None
    if args.api is None:
        data_dir = Path(tempfile.mkdtemp(prefix="gridwatch-bench-"))
        stack = start_stack(data_dir, args.api_port)
        args.api = f"http://127.0.0.1:{args.api_port}"
    try:
        latencies = measure(args.api, args.mqtt_port, args.presses, args.gap)
    finally:
        if stack is not None:
            stack.send_signal(signal.SIGINT)
            stack.wait(timeout=120)
    ms = sorted(x * 1000 for x in latencies)
    p95 = ms[min(len(ms) - 1, round(0.95 * len(ms)) - 1)]
    print(f"button press -> incident visible in the API, {len(ms)} presses: "
          f"median {statistics.median(ms):.0f} ms, p95 {p95:.0f} ms, max {ms[-1]:.0f} ms, min {ms[0]:.0f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
