"""`gridwatch up`, the README's first command, on its embedded defaults: a press becomes an incident,
and stopping and starting again loses nothing that was stored."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from gridwatch.servers.ports import free_port

from .helpers import REPO, mqtt_publish, wait_until

PRESS = b'{"action": "single"}'
BUTTON_TOPIC = "zigbee2mqtt/btn-gate-east"


@contextmanager
def gridwatch_up(data_dir: Path, api_port: int) -> Iterator[tuple[str, int]]:
    """Run `gridwatch up`; yield the API URL and MQTT port from its banner; stop it with Ctrl-C."""
    out = data_dir.parent / "up.out"
    env = {k: v for k, v in os.environ.items() if not k.startswith("GRIDWATCH_")}
    with out.open("w") as sink:
        proc = subprocess.Popen([sys.executable, "-m", "gridwatch.cli", "up", "--data-dir", str(data_dir),
                                 "--api-port", str(api_port)], cwd=REPO, env=env, stdout=sink,
                                stderr=subprocess.DEVNULL)
    try:
        banner = wait_until(lambda: "console" in out.read_text() and out.read_text(), timeout_s=180,
                            what="the banner of gridwatch up")
        api = re.search(r"incidents API\s+(http://\S+)/v1/incidents", banner).group(1)  # type: ignore[union-attr]
        mqtt_port = int(re.search(r"mqtt 127\.0\.0\.1:(\d+)", banner).group(1))  # type: ignore[union-attr]
        yield api, mqtt_port
    finally:
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=120) == 0


def alarm_incidents(api: str) -> list[dict]:
    return httpx.get(f"{api}/v1/incidents", params={"category": "alarm"}, timeout=10).json()["items"]


def test_up_runs_the_pipeline_and_keeps_what_was_stored_across_restarts(tmp_path: Path) -> None:
    data_dir, api_port = tmp_path / "var", free_port()
    with gridwatch_up(data_dir, api_port) as (api, mqtt_port):
        mqtt_publish(mqtt_port, [(BUTTON_TOPIC, PRESS)])
        (first,) = wait_until(lambda: alarm_incidents(api), timeout_s=60, what="the press as an incident")
    with gridwatch_up(data_dir, api_port) as (api, mqtt_port):
        assert [i["id"] for i in alarm_incidents(api)] == [first["id"]]
        mqtt_publish(mqtt_port, [(BUTTON_TOPIC, PRESS)])
        wait_until(lambda: len(httpx.get(f"{api}/v1/incidents/{first['id']}").json()["alert_ids"]) == 2,
                   timeout_s=60, what="the second press joining the stored incident")
