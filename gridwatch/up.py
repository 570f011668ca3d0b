"""``gridwatch up``: the whole pipeline on one machine, under one data folder.

Boot order: Kafka, PostgreSQL and MQTT (gridwatch.servers); GridWatch's topics and schema; then the
ingest, the API and the edge agent as child processes, each logging to ``<data_dir>/logs/NAME.log``
and restarted with backoff when it dies. Ctrl-C or SIGTERM stops the children, then the servers in
reverse order. Kafka's log directories and PostgreSQL's cluster stay in the data folder, so the next
``gridwatch up`` starts where this one stopped.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import shutil
import signal
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import TextIO
from urllib.error import URLError
from urllib.request import urlopen

from gridwatch.kafka import ensure_topics
from gridwatch.observability import configure_logging
from gridwatch.servers import ChildProcess, KafkaServer, LaunchSpec, MqttServer, PostgresServer, ServerError
from gridwatch.servers.ports import LOOPBACK, free_port, port_accepts, port_is_free
from gridwatch.servers.supervisor import Supervisor
from gridwatch.settings import KafkaSettings
from ingest.migrate import migrate

log = logging.getLogger(__name__)

DEFAULT_PORTS = {"kafka": 9092, "kafka controller": 9093, "postgresql": 5432, "mqtt": 1883,
                 "ingest metrics": 9101, "edge metrics": 9102}  # fmt: skip
SERVICE_STOP_TIMEOUT_S = 20.0
API_WAIT_S = 60.0
SUPERVISE_EVERY_S = 0.5
SAMPLE_BUTTON_TOPIC = "zigbee2mqtt/btn-gate-east"
SAMPLE_BUTTON_PAYLOAD = '{"action":"single"}'


class Stop(BaseException):
    """SIGINT or SIGTERM arrived: leave whatever we were doing and shut down (like KeyboardInterrupt)."""


@dataclass(frozen=True)
class Servers:
    kafka: KafkaServer
    postgres: PostgresServer
    mqtt: MqttServer


@dataclass(frozen=True)
class ServicePorts:
    api: int
    ingest_metrics: int
    edge_metrics: int


def say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def port_or_free(preferred: int, what: str) -> int:
    """``preferred`` when nothing listens there, else a free port (and we say so)."""
    if port_is_free(preferred):
        return preferred
    port = free_port()
    say(f"port {preferred} ({what}) is taken, probably by another {what}; using {port} instead")
    return port


# --- servers ---------------------------------------------------------------------------------------
def start_servers(data_dir: Path, stack: ExitStack) -> Servers:
    """Start the three servers; ``stack`` stops them in reverse order on the way out.

    Every port is fixed before the start, so a server the supervisor restarts comes back on the
    address the services were given."""
    servers = Servers(
        kafka=KafkaServer(data_dir, port=port_or_free(DEFAULT_PORTS["kafka"], "kafka"),
                          controller_port=port_or_free(DEFAULT_PORTS["kafka controller"], "kafka controller")),
        postgres=PostgresServer(data_dir, port=port_or_free(DEFAULT_PORTS["postgresql"], "postgresql")),
        mqtt=MqttServer(data_dir, port=port_or_free(DEFAULT_PORTS["mqtt"], "mqtt")),
    )  # fmt: skip
    for server in (servers.kafka, servers.postgres, servers.mqtt):
        say(f"starting {server.name} ...")
        stack.enter_context(server)
    return servers


def prepare_data(servers: Servers) -> None:
    created = ensure_topics(KafkaSettings(bootstrap_servers=servers.kafka.bootstrap))
    if created:
        say("created topics: " + ", ".join(created))
    applied = migrate(servers.postgres.url)
    if applied:
        say("applied migrations: " + ", ".join(applied))


# --- GridWatch's own processes ---------------------------------------------------------------------
def service_env(data_dir: Path, servers: Servers, ports: ServicePorts) -> dict[str, str]:
    """The environment of ingest, API and edge: the inherited one plus where everything is."""
    return {
        **os.environ,
        "PYTHONUNBUFFERED": "1",
        "GRIDWATCH_DATA_DIR": str(data_dir),
        "GRIDWATCH_KAFKA__BOOTSTRAP_SERVERS": servers.kafka.bootstrap,
        "GRIDWATCH_DATABASE__URL": servers.postgres.url,
        "GRIDWATCH_MQTT__HOST": servers.mqtt.host,
        "GRIDWATCH_MQTT__PORT": str(servers.mqtt.port),
        "GRIDWATCH_API__HOST": LOOPBACK,
        "GRIDWATCH_API__PORT": str(ports.api),
        "GRIDWATCH_INGEST__METRICS_PORT": str(ports.ingest_metrics),
        "GRIDWATCH_EDGE__METRICS_PORT": str(ports.edge_metrics),
        "GRIDWATCH_EDGE__SPOOL_DIR": str(data_dir / "edge-spool"),
        "GRIDWATCH_EDGE__SNAPSHOT_DIR": str(data_dir / "snapshots"),
    }


def service_specs(data_dir: Path, site: Path, grids: Path, env: dict[str, str]) -> list[LaunchSpec]:
    """Ingest first (it consumes), then the API, then the edge (it produces)."""
    cli = [sys.executable, "-m", "gridwatch.cli"]
    commands = {
        "ingest": [*cli, "ingest", "--grids", str(grids)],
        "api": [*cli, "api"],
        "edge": [*cli, "edge", "--config", str(site)],
    }
    return [
        LaunchSpec(name=name, argv=argv, log_path=data_dir / "logs" / f"{name}.log", env=env,
                   stop_timeout=SERVICE_STOP_TIMEOUT_S)
        for name, argv in commands.items()
    ]  # fmt: skip


def start_services(specs: list[LaunchSpec], stack: ExitStack) -> list[ChildProcess]:
    """Start each service; ``stack`` stops them (SIGTERM, then SIGKILL) in reverse order."""
    children = [ChildProcess(spec) for spec in specs]
    for child in children:
        child.start()
        stack.callback(_stop_service, child)
    return children


def _stop_service(child: ChildProcess) -> None:
    code = child.stop()
    log.info("%s stopped (exit code %s)", child.name, code)


def edge_subscribed(port: int) -> bool:
    """The edge's /healthz says it is subscribed to MQTT (so a press is not lost)."""
    try:
        with urlopen(f"http://{LOOPBACK}:{port}/healthz", timeout=2) as response:
            return bool(json.loads(response.read()).get("mqtt_connected"))
    except (URLError, OSError, ValueError):
        return False


def wait_for_edge(edge: ChildProcess, port: int) -> bool:
    """Wait until the edge listens for presses: it loads its camera models first, which may take
    longer than the API takes to start, and a press before it subscribed would be lost."""
    deadline = time.monotonic() + API_WAIT_S
    while time.monotonic() < deadline and edge.alive:
        if edge_subscribed(port):
            return True
        time.sleep(0.2)
    return False


def wait_for_api(api: ChildProcess, port: int) -> bool:
    deadline = time.monotonic() + API_WAIT_S
    while time.monotonic() < deadline and api.alive:
        if port_accepts(port):
            return True
        time.sleep(0.2)
    return False


# --- what the user sees ----------------------------------------------------------------------------
def button_command(mqtt_port: int) -> str:
    if shutil.which("mosquitto_pub"):
        return f"mosquitto_pub -h {LOOPBACK} -p {mqtt_port} -t {SAMPLE_BUTTON_TOPIC} -m '{SAMPLE_BUTTON_PAYLOAD}'"
    payload = SAMPLE_BUTTON_PAYLOAD.replace('"', '\\"')
    return (f"{sys.executable} -c \"import paho.mqtt.publish as p; "
            f"p.single('{SAMPLE_BUTTON_TOPIC}', '{payload}', hostname='{LOOPBACK}', port={mqtt_port})\"")  # fmt: skip


def banner(data_dir: Path, servers: Servers, ports: ServicePorts, api_up: bool) -> str:
    api = f"http://{LOOPBACK}:{ports.api}"
    api_log = data_dir / "logs" / "api.log"
    status = "GridWatch is up." if api_up else f"GridWatch started; the API does not answer yet: see {api_log}"
    lines = [
        "",
        status,
        f"  incidents API  {api}/v1/incidents",
        f"  console        {api}/console/",
        f"  metrics        ingest http://{LOOPBACK}:{ports.ingest_metrics}/metrics   "
        f"edge http://{LOOPBACK}:{ports.edge_metrics}/metrics",
        f"  servers        kafka {servers.kafka.bootstrap}   postgresql {servers.postgres.url}   "
        f"mqtt {LOOPBACK}:{servers.mqtt.port} ({servers.mqtt.broker})",
        f"  data and logs  {data_dir}  (logs/ingest.log, logs/api.log, logs/edge.log)",
        "Press the sample site's alarm button:",
        f"  {button_command(servers.mqtt.port)}",
        "Ctrl-C stops everything; `gridwatch up` again carries on with what was stored.",
        "",
    ]
    return "\n".join(lines)


# --- signals ---------------------------------------------------------------------------------------
def _raise_stop(signum: int, _frame: FrameType | None) -> None:
    raise Stop(signal.Signals(signum).name)


def _say_stopping(_signum: int, _frame: FrameType | None) -> None:
    say("already stopping; please wait")


@contextmanager
def _signals(handler: Callable[[int, FrameType | None], None]) -> Iterator[None]:
    previous = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    for sig in previous:
        signal.signal(sig, handler)
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


# --- the command -----------------------------------------------------------------------------------
def _run(data_dir: Path, site: Path, grids: Path, api_port: int, stack: ExitStack) -> None:
    """Start everything, then supervise until a Stop arrives."""
    servers = start_servers(data_dir, stack)
    prepare_data(servers)
    ports = ServicePorts(
        api=port_or_free(api_port, "api"),
        ingest_metrics=port_or_free(DEFAULT_PORTS["ingest metrics"], "ingest metrics"),
        edge_metrics=port_or_free(DEFAULT_PORTS["edge metrics"], "edge metrics"),
    )
    children = start_services(service_specs(data_dir, site, grids, service_env(data_dir, servers, ports)), stack)
    api_up = wait_for_api(children[1], ports.api)
    if not wait_for_edge(children[2], ports.edge_metrics):
        log.warning("the edge agent is not listening for presses yet: see %s", data_dir / "logs" / "edge.log")
    print(banner(data_dir, servers, ports, api_up), flush=True)
    supervisor = Supervisor([*children, servers.kafka, servers.postgres, servers.mqtt], report=log.warning)
    while True:
        supervisor.check()
        time.sleep(SUPERVISE_EVERY_S)


def _lock_data_dir(data_dir: Path) -> TextIO | None:
    """Hold an exclusive lock on the data folder for as long as the returned file is open.

    Two runs on one folder would start a second Kafka and PostgreSQL on the same files.
    """
    handle = (data_dir / "up.lock").open("a+")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.close()
        return None
    return handle


def run_up(data_dir: Path, site: Path, grids: Path, api_port: int) -> int:
    """Run the pipeline until Ctrl-C or SIGTERM; return the exit code (0 after a requested stop)."""
    configure_logging(os.environ.get("GRIDWATCH_LOG_LEVEL", "INFO"), "console")
    logging.getLogger("yoyo").setLevel(logging.WARNING)  # one line per migration step otherwise
    data_dir, site, grids = data_dir.absolute(), site.absolute(), grids.absolute()
    for path, what in ((site, "site file"), (grids, "grid map")):
        if not path.is_file():
            say(f"gridwatch up: {what} {path} not found")
            return 2
    data_dir.mkdir(parents=True, exist_ok=True)
    lock = _lock_data_dir(data_dir)
    if lock is None:
        say(f"gridwatch up: another `gridwatch up` is already running on {data_dir}; "
            "stop it first, or pass another --data-dir")
        return 1
    code = 0
    with lock, _signals(_raise_stop), ExitStack() as stack:
        try:
            _run(data_dir, site, grids, api_port, stack)
        except Stop as stop:
            say(f"{stop.args[0] if stop.args else 'signal'}: stopping the services, then the servers ...")
        except ServerError as exc:
            say(f"gridwatch up: {exc}")
            code = 1
        finally:
            # Ignore further Ctrl-C while the ExitStack stops everything in reverse order.
            signal.signal(signal.SIGINT, _say_stopping)
            signal.signal(signal.SIGTERM, _say_stopping)
    say("stopped; data kept in " + str(data_dir))
    return code
