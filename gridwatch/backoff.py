"""Capped exponential backoff, the one used wherever GridWatch waits before trying again."""

from __future__ import annotations

import random
from dataclasses import dataclass


@dataclass
class Backoff:
    """``initial_s``, doubling to ``max_s``; ``reset`` after a success.

    ``jitter`` takes up to that share off each delay, so that many edge boxes reconnecting after
    one outage do not knock on Kafka in step. Example: ``Backoff(1, 30, jitter=0)`` waits
    1, 2, 4, 8, 16, 30, 30 ... seconds.
    """

    initial_s: float = 0.5
    max_s: float = 30.0
    jitter: float = 0.2
    attempt: int = 0

    def next_delay(self) -> float:
        # 2**attempt as a float overflows after 1024 failures (8.5 h of a 30 s cap): the exponent stops at 60
        delay = min(self.max_s, self.initial_s * 2.0 ** min(self.attempt, 60))
        self.attempt += 1
        return delay * random.uniform(1.0 - self.jitter, 1.0) if self.jitter else delay

    def reset(self) -> None:
        self.attempt = 0
