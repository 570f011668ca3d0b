"""Apache Kafka 4.1 in KRaft mode, one node (broker and controller in one JVM), from Maven Central jars.

The jars are fetched once with Maven into ``${GRIDWATCH_CACHE:-~/.cache/gridwatch}/kafka-4.1.1/lib``
(``python -m gridwatch.servers fetch-kafka``). The node keeps everything under ``<data_dir>/kafka``:
``server.properties``, ``log4j2.properties``, ``cluster.id``, the log directory ``data/`` (formatted
once) and the broker's log ``server.log``; a restart on the same folder keeps every topic and offset.
"""

from __future__ import annotations

import base64
import collections
import fcntl
import logging
import os
import re
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TextIO

from gridwatch.servers.ports import LOOPBACK, free_port, port_accepts
from gridwatch.servers.process import ChildServer, LaunchSpec, ServerError

log = logging.getLogger(__name__)

KAFKA_VERSION = "4.1.1"
# Kafka 4.1 is built on SLF4J 1.7, so its log4j 2 binding is log4j-slf4j-impl (not the slf4j2 one,
# which SLF4J 1.7 ignores: the broker would then log nothing at all).
LOG4J_VERSION = "2.24.3"
HEAP = "512m"
_COMPLETE = ".complete"

POM = f"""<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>gridwatch</groupId>
  <artifactId>kafka-runtime</artifactId>
  <version>{KAFKA_VERSION}</version>
  <packaging>pom</packaging>
  <dependencies>
    <dependency>
      <groupId>org.apache.kafka</groupId><artifactId>kafka_2.13</artifactId><version>{KAFKA_VERSION}</version>
    </dependency>
    <dependency>
      <groupId>org.apache.logging.log4j</groupId><artifactId>log4j-slf4j-impl</artifactId><version>{LOG4J_VERSION}</version>
    </dependency>
  </dependencies>
</project>
"""

LOG4J2 = """status = warn
appender.file.type = RollingFile
appender.file.name = FILE
appender.file.fileName = {log}
appender.file.filePattern = {log}.%i
appender.file.layout.type = PatternLayout
appender.file.layout.pattern = [%d] %p %m (%c)%n
appender.file.policies.type = Policies
appender.file.policies.size.type = SizeBasedTriggeringPolicy
appender.file.policies.size.size = 20MB
appender.file.strategy.type = DefaultRolloverStrategy
appender.file.strategy.max = 3
rootLogger.level = INFO
rootLogger.appenderRef.file.ref = FILE
logger.statechange.name = state.change.logger
logger.statechange.level = WARN
"""


def cache_root() -> Path:
    return Path(os.environ.get("GRIDWATCH_CACHE") or "~/.cache/gridwatch").expanduser()


def kafka_home() -> Path:
    return cache_root() / f"kafka-{KAFKA_VERSION}"


@contextmanager
def _locked(path: Path) -> Iterator[None]:
    """An exclusive lock file, so two processes never download into the same folder at once."""
    with path.open("w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def fetch_kafka(home: Path | None = None, out: TextIO | None = None) -> Path:
    """Download Kafka's jars from Maven Central unless already complete; return the ``lib`` folder.

    A marker file is written last, so an interrupted download is started again from scratch."""
    home = home or kafka_home()
    out = out or sys.stderr
    lib = home / "lib"
    if (home / _COMPLETE).exists():
        return lib
    home.mkdir(parents=True, exist_ok=True)
    with _locked(home / ".lock"):
        if (home / _COMPLETE).exists():
            return lib
        mvn = shutil.which("mvn")
        if mvn is None:
            raise ServerError("Maven (mvn) is needed once to fetch Kafka's jars; install it (apt-get install maven)")
        print(f"fetching Kafka {KAFKA_VERSION} from Maven Central into {lib} (first run only)", file=out, flush=True)
        shutil.rmtree(lib, ignore_errors=True)
        (home / "pom.xml").write_text(POM)
        code, tail_lines = _run_maven([mvn, "-B", "-f", str(home / "pom.xml"), "dependency:copy-dependencies",
                                       f"-DoutputDirectory={lib}"], out)
        if code != 0 or not any(lib.glob("kafka_2.13-*.jar")):
            raise ServerError(f"fetching Kafka's jars failed (mvn exit code {code}):\n" + "\n".join(tail_lines))
        (home / _COMPLETE).write_text(KAFKA_VERSION + "\n")
        print(f"Kafka {KAFKA_VERSION} jars ready in {lib}", file=out, flush=True)
    return lib


_DOWNLOADED = re.compile(r"^\[INFO\] Downloaded from \S+: \S+ \(([\d.]+) (kB|MB|B)")
_UNIT = {"B": 1e-6, "kB": 1e-3, "MB": 1.0}


def _run_maven(cmd: list[str], out: TextIO, every_s: float = 3.0) -> tuple[int, list[str]]:
    """Run Maven, printing a progress line (files and MB downloaded) every ``every_s``; return the
    exit code and the last lines of its output for an error message."""
    files, megabytes, last_report = 0, 0.0, time.monotonic()
    tail_lines: collections.deque[str] = collections.deque(maxlen=30)
    with subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True) as proc:
        assert proc.stdout is not None
        for line in proc.stdout:
            tail_lines.append(line.rstrip())
            if match := _DOWNLOADED.match(line):
                files += 1
                megabytes += float(match.group(1)) * _UNIT[match.group(2)]
            if time.monotonic() - last_report >= every_s:
                print(f"  ... {files} files, {megabytes:.1f} MB downloaded", file=out, flush=True)
                last_report = time.monotonic()
    print(f"  {files} files, {megabytes:.1f} MB downloaded", file=out, flush=True)
    return proc.returncode, list(tail_lines)


def java_executable() -> str:
    java_home = os.environ.get("JAVA_HOME")
    java = (java_home and shutil.which("java", path=os.path.join(java_home, "bin"))) or shutil.which("java")
    if java is None:
        raise ServerError("Java 17+ is needed to run Kafka; install it (apt-get install openjdk-17-jre-headless)")
    return java


def new_cluster_id() -> str:
    """A cluster id as ``kafka-storage random-uuid`` makes it (base64url, never starting with '-')."""
    while True:
        text = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        if not text.startswith("-"):
            return text


def server_properties(data: Path, port: int, controller_port: int) -> str:
    lines = {
        "process.roles": "broker,controller",
        "node.id": "1",
        "controller.quorum.bootstrap.servers": f"{LOOPBACK}:{controller_port}",
        "listeners": f"PLAINTEXT://{LOOPBACK}:{port},CONTROLLER://{LOOPBACK}:{controller_port}",
        "advertised.listeners": f"PLAINTEXT://{LOOPBACK}:{port}",
        "controller.listener.names": "CONTROLLER",
        "inter.broker.listener.name": "PLAINTEXT",
        "listener.security.protocol.map": "CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
        "log.dirs": str(data),
        "num.partitions": "1",
        # GridWatch creates its topics with ensure_topics(); auto-creation would race it with a
        # one-partition topic whenever a consumer asks for metadata first, and hide typos.
        "auto.create.topics.enable": "false",
        "offsets.topic.replication.factor": "1",
        "offsets.topic.num.partitions": "10",
        "transaction.state.log.replication.factor": "1",
        "transaction.state.log.min.isr": "1",
        "transaction.state.log.num.partitions": "10",
        "share.coordinator.state.topic.replication.factor": "1",
        "share.coordinator.state.topic.min.isr": "1",
        "group.initial.rebalance.delay.ms": "0",
    }
    return "".join(f"{key}={value}\n" for key, value in lines.items())


class KafkaServer(ChildServer):
    """A single-node KRaft Kafka under ``<data_dir>/kafka``.

    Example: ``with KafkaServer(Path("var"), port=9092) as kafka: produce_to(kafka.bootstrap)``;
    leave ``port`` out to get a free one (tests).
    """

    name = "kafka"

    def __init__(self, data_dir: Path, port: int | None = None, controller_port: int | None = None) -> None:
        super().__init__(data_dir / "kafka", port)
        self.requested_controller_port = controller_port
        self.controller_port = controller_port or 0
        self.log_dir = self.root / "data"
        self.server_log = self.root / "server.log"
        self._lib: Path | None = None
        self._java = ""

    @property
    def bootstrap(self) -> str:
        return f"{LOOPBACK}:{self.port}"

    def cluster_id(self) -> str:
        """The id this node's storage was (or will be) formatted with, kept in ``cluster.id``."""
        path = self.root / "cluster.id"
        if not path.exists():
            path.write_text(new_cluster_id() + "\n")
        return path.read_text().strip()

    def prepare(self) -> None:
        self._java = java_executable()
        self._lib = fetch_kafka()
        (self.root / "log4j2.properties").write_text(LOG4J2.format(log=self.server_log))

    def assign_ports(self) -> None:
        super().assign_ports()
        self.controller_port = self.requested_controller_port or free_port()
        while self.controller_port == self.port:
            self.controller_port = free_port()

    def configure(self) -> None:
        # The controller's port may differ between starts: with one voter, the stored endpoint is never dialled.
        (self.root / "server.properties").write_text(server_properties(self.log_dir, self.port, self.controller_port))
        if not (self.log_dir / "meta.properties").exists():
            self._format()

    def _format(self) -> None:
        result = subprocess.run(
            [self._java, *self._jvm_options(), "kafka.tools.StorageTool", "format", "--standalone",
             "-t", self.cluster_id(), "-c", str(self.root / "server.properties")],
            capture_output=True,
            text=True,
            check=False,
        )
        if result.returncode != 0:
            raise ServerError(f"formatting Kafka storage in {self.log_dir} failed:\n{result.stdout}{result.stderr}")
        log.info("formatted Kafka storage in %s (cluster %s)", self.log_dir, self.cluster_id())

    def _jvm_options(self) -> list[str]:
        assert self._lib is not None, "prepare() first"
        return [
            f"-Xmx{HEAP}",
            "-XX:+UseG1GC",
            "-XX:MaxGCPauseMillis=20",
            "-XX:+ExitOnOutOfMemoryError",
            "-Djava.awt.headless=true",
            f"-Dlog4j2.configurationFile={self.root / 'log4j2.properties'}",
            "-cp",
            f"{self._lib}/*",
        ]

    def launch_spec(self) -> LaunchSpec:
        return LaunchSpec(
            name=self.name,
            argv=[self._java, *self._jvm_options(), "kafka.Kafka", str(self.root / "server.properties")],
            log_path=self.root / "console.log",
            extra_logs=(self.server_log,),
            cwd=self.root,
        )

    def is_ready(self) -> bool:
        """Ready when the broker answers a metadata request and lists itself, unfenced."""
        if not port_accepts(self.port):
            return False
        return broker_is_up(self.bootstrap)


def broker_is_up(bootstrap: str) -> bool:
    from kafka import (
        KafkaAdminClient,  # kafka-python logs loudly while a broker starts; keep it quiet
    )
    from kafka.errors import KafkaConfigurationError, KafkaError

    kafka_logger = logging.getLogger("kafka")
    level = kafka_logger.level
    kafka_logger.setLevel(logging.CRITICAL)
    try:
        admin = KafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=5000)
        try:
            cluster = admin.describe_cluster()
        finally:
            admin.close()
    except KafkaConfigurationError:
        raise
    except (KafkaError, OSError):
        return False
    finally:
        kafka_logger.setLevel(level)
    return any(not broker.get("is_fenced", False) for broker in cluster.get("brokers", []))
