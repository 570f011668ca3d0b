"""A server run as one child process: launched with its output in a log file, waited on until it
answers, stopped gracefully and then by force, and explained with the end of its log when it fails."""

from __future__ import annotations

import ctypes
import logging
import os
import pwd
import signal
import subprocess
import sys
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any, ClassVar, Self

from gridwatch.servers.ports import free_port
import contextlib

log = logging.getLogger(__name__)

TAIL_LINES = 40
PORT_ATTEMPTS = 4
_PR_SET_PDEATHSIG = 1


class ServerError(RuntimeError):
    """A server could not be prepared, started or stopped; the message says why, with its log's tail."""


class PortTaken(ServerError):
    """The server could not bind its port ("Address already in use")."""


def tail(path: Path, lines: int = TAIL_LINES) -> str:
    """The last ``lines`` lines of a (possibly large, possibly missing) text file."""
    try:
        with path.open("rb") as fh:
            fh.seek(0, os.SEEK_END)
            fh.seek(max(0, fh.tell() - 64 * 1024))
            text = fh.read().decode("utf-8", "replace")
    except FileNotFoundError:
        return f"(no log at {path})"
    return "\n".join(text.splitlines()[-lines:])


@dataclass(frozen=True)
class LaunchSpec:
    """How to run one child: its command, where its output goes, and how it wants to be stopped."""

    name: str
    argv: Sequence[str]
    log_path: Path
    env: Mapping[str, str] | None = None
    cwd: Path | None = None
    user: str | None = None  # switch to this system user (we must be root)
    stop_signal: signal.Signals = signal.SIGTERM
    stop_timeout: float = 30.0  # seconds between the stop signal and SIGKILL
    extra_logs: tuple[Path, ...] = ()  # files the program writes itself, shown when it fails


def as_user(user: str | None) -> dict[str, Any]:
    """``subprocess`` arguments that run a program as ``user`` with that user's groups only.

    ``user=`` alone keeps root's groups, and with them group access to root's 0700-ish folders."""
    if user is None:
        return {}
    entry = pwd.getpwnam(user)
    return {"user": entry.pw_uid, "group": entry.pw_gid, "extra_groups": []}


def _die_with_parent(sig: signal.Signals) -> Callable[[], None] | None:
    """A preexec hook so the child gets ``sig`` if we die without stopping it (Linux only).

    Children run in their own session (so a Ctrl-C reaches only us, and we stop them in order);
    this keeps a killed parent from leaving servers behind that hold ports and data directories."""
    if not sys.platform.startswith("linux"):
        return None
    prctl = ctypes.CDLL(None, use_errno=True).prctl

    def hook() -> None:
        prctl(_PR_SET_PDEATHSIG, int(sig))

    return hook


@dataclass
class ChildProcess:
    """One running program, started in its own session with stdout and stderr appended to a log."""

    spec: LaunchSpec
    _popen: subprocess.Popen[bytes] | None = field(default=None, init=False, repr=False)
    _log_offsets: dict[Path, int] = field(default_factory=dict, init=False, repr=False)

    def start(self) -> None:
        spec = self.spec
        spec.log_path.parent.mkdir(parents=True, exist_ok=True)
        self._log_offsets = {p: p.stat().st_size if p.exists() else 0 for p in (spec.log_path, *spec.extra_logs)}
        with spec.log_path.open("ab") as out:
            try:
                self._popen = subprocess.Popen(
                    list(spec.argv),
                    stdin=subprocess.DEVNULL,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    env=dict(spec.env) if spec.env is not None else None,
                    cwd=spec.cwd,
                    **as_user(spec.user),
                    start_new_session=True,
                    preexec_fn=_die_with_parent(spec.stop_signal),
                )
            except OSError as exc:
                raise ServerError(f"{spec.name}: cannot run {spec.argv[0]}: {exc}") from exc

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def pid(self) -> int | None:
        return self._popen.pid if self._popen else None

    @property
    def returncode(self) -> int | None:
        return self._popen.poll() if self._popen else None

    @property
    def alive(self) -> bool:
        return self._popen is not None and self._popen.poll() is None

    running = alive  # the name servers use; lets a Supervisor watch both

    def stop(self, timeout: float | None = None) -> int | None:
        """Send the program's stop signal, wait ``timeout`` seconds (default: the spec's), then kill
        its whole process group. Returns the exit code."""
        if self._popen is None or self._popen.poll() is not None:
            return self.returncode
        timeout = self.spec.stop_timeout if timeout is None else timeout
        self._popen.send_signal(self.spec.stop_signal)
        try:
            return self._popen.wait(timeout)
        except subprocess.TimeoutExpired:
            log.warning("%s did not stop within %.0fs; killing it", self.spec.name, timeout)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self._popen.pid, signal.SIGKILL)
        return self._popen.wait()

    def output_since_start(self) -> str:
        """What the program logged since this start (earlier runs' lines excluded)."""
        parts = []
        for path, offset in self._log_offsets.items():
            if path.exists():
                with path.open("rb") as fh:
                    fh.seek(offset)
                    parts.append(fh.read(1024 * 1024).decode("utf-8", "replace"))
        return "\n".join(parts)

    def log_report(self) -> str:
        """The last lines of each of the program's logs, labelled with their paths."""
        return "\n".join(
            f"--- last lines of {p} ---\n{tail(p)}" for p in (self.spec.log_path, *self.spec.extra_logs)
        )


def wait_until_ready(child: ChildProcess, probe: Callable[[], bool], timeout: float) -> float:
    """Poll ``probe`` until it says yes; fail early if the child exits. Returns the seconds waited."""
    started = time.monotonic()
    while True:
        if not child.alive:
            raise ServerError(
                f"{child.spec.name} exited with code {child.returncode} before it was ready\n{child.log_report()}"
            )
        if probe():
            return time.monotonic() - started
        if time.monotonic() - started > timeout:
            raise ServerError(f"{child.spec.name} was not ready after {timeout:.0f}s\n{child.log_report()}")
        time.sleep(0.1)


class ChildServer(ABC):
    """Start/stop/context-manager logic shared by the local Kafka, PostgreSQL and MQTT servers.

    A subclass prepares its files once (``prepare``), writes per-start configuration for the ports it
    was given (``configure``), says how to run itself (``launch_spec``) and when it is ready
    (``is_ready``). Ports left unset are picked free; a bind collision retries with new ones.
    """

    name: ClassVar[str]
    start_timeout: ClassVar[float] = 90.0

    def __init__(self, root: Path, port: int | None = None) -> None:
        self.root = root.absolute()
        self.requested_port = port
        self.port = port or 0
        self.startup_seconds: float | None = None
        self._child: ChildProcess | None = None

    # --- what a server says about itself -------------------------------------------------------
    def prepare(self) -> None:
        """One-time work before the first start (downloads, initdb, users, directories)."""

    def assign_ports(self) -> None:
        self.port = self.requested_port or free_port()

    def configure(self) -> None:
        """Write the configuration for the ports just assigned."""

    @abstractmethod
    def launch_spec(self) -> LaunchSpec: ...

    @abstractmethod
    def is_ready(self) -> bool: ...

    def after_ready(self) -> None:
        """Work needing the running server (creating a database, for example)."""

    # --- lifecycle ---------------------------------------------------------------------------------
    @property
    def running(self) -> bool:
        return self._child is not None and self._child.alive

    @property
    def pid(self) -> int | None:
        return self._child.pid if self._child else None

    @property
    def returncode(self) -> int | None:
        return self._child.returncode if self._child else None

    def start(self) -> Self:
        """Start the server and return once it answers; raise ServerError with its log otherwise."""
        if self.running:
            return self
        self.root.mkdir(parents=True, exist_ok=True)
        began = time.monotonic()
        self.prepare()
        attempts = 1 if self.requested_port else PORT_ATTEMPTS
        for attempt in range(1, attempts + 1):
            try:
                self._child = self._launch()
                break
            except PortTaken:
                if attempt == attempts:
                    raise
                log.warning("%s: port %s was taken meanwhile; retrying on another port", self.name, self.port)
        self.startup_seconds = time.monotonic() - began
        log.info("%s ready on 127.0.0.1:%s in %.1fs", self.name, self.port, self.startup_seconds)
        return self

    def _launch(self) -> ChildProcess:
        """One attempt: assign ports, write the configuration, run, wait; on any failure stop the child."""
        self.assign_ports()
        self.configure()
        child = ChildProcess(self.launch_spec())
        child.start()
        try:
            wait_until_ready(child, self.is_ready, self.start_timeout)
            self.after_ready()
        except BaseException as exc:
            child.stop()
            if isinstance(exc, ServerError) and "address already in use" in child.output_since_start().lower():
                raise PortTaken(str(exc)) from exc
            raise
        return child

    def stop(self) -> None:
        """Stop gracefully (the server's own shutdown), then by force after ``stop_timeout``."""
        if self._child is None:
            return
        child, self._child = self._child, None
        code = child.stop()
        log.info("%s stopped (exit code %s)", self.name, code)

    def log_report(self) -> str:
        return self._child.log_report() if self._child else ""

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
