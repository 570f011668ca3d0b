"""Keep long-running children alive: notice one that died, report it with the end of its log, and
start it again after a delay that doubles with each quick failure (a crash loop does not spin)."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

from gridwatch.servers.process import ServerError

STABLE_AFTER_S = 60.0  # a child that ran this long before dying starts its backoff afresh
BACKOFF_CAP_S = 60.0


class Supervised(Protocol):
    """What a Supervisor needs: ChildProcess and every ChildServer fit."""

    @property
    def name(self) -> str: ...
    @property
    def running(self) -> bool: ...
    @property
    def returncode(self) -> int | None: ...
    def start(self) -> object: ...
    def log_report(self) -> str: ...


def backoff_seconds(failures: int, cap: float = BACKOFF_CAP_S) -> float:
    """1, 2, 4, ... seconds after the 1st, 2nd, 3rd quick failure, at most ``cap``."""
    return min(cap, 2.0 ** max(0, failures - 1))


@dataclass
class _Watch:
    unit: Supervised
    started_at: float
    failures: int = 0
    restart_at: float | None = None


class Supervisor:
    """Call ``check()`` periodically; it restarts whatever died, telling ``report`` what happened."""

    def __init__(
        self, units: Sequence[Supervised], report: Callable[[str], None], clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._clock = clock
        self._report = report
        self._watches = [_Watch(unit, clock()) for unit in units]

    def check(self) -> None:
        now = self._clock()
        for watch in self._watches:
            if watch.restart_at is not None:
                if now >= watch.restart_at:
                    self._restart(watch)
            elif not watch.unit.running:
                self._schedule(watch, now, f"{watch.unit.name} exited with code {watch.unit.returncode}")

    def _schedule(self, watch: _Watch, now: float, what: str) -> None:
        watch.failures = 1 if now - watch.started_at >= STABLE_AFTER_S else watch.failures + 1
        delay = backoff_seconds(watch.failures)
        watch.restart_at = now + delay
        self._report(f"{what}; restarting it in {delay:.0f}s\n{watch.unit.log_report()}")

    def _restart(self, watch: _Watch) -> None:
        watch.restart_at = None
        watch.started_at = self._clock()
        try:
            watch.unit.start()
        except ServerError as exc:
            self._schedule(watch, self._clock(), f"{watch.unit.name} did not restart: {exc}")
            return
        self._report(f"{watch.unit.name} restarted")
