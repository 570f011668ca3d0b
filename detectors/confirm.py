"""When a condition becomes an alert, is repeated, and ends: k of n, update interval, cooldown.

Pure and clocked by the caller (frame time in seconds), so a recorded video gives the same alerts
on every run and tests need no sleeping. One ``Confirmer`` serves one rule on one camera; its keys
are the rule's zones (crowd, fire) or vehicles (parking), so the cooldown is per camera, detector
and zone as the issue asks: a condition that flickers on and off inside one zone cannot restart
an alert before ``cooldown_s`` has passed since the last one ended.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import Hashable

from pydantic import BaseModel, ConfigDict, Field, model_validator

from detectors.types import Phase


class ConfirmConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    k: int = Field(3, ge=1, description="frames (of the last n evaluated) the condition must hold to confirm")
    n: int = Field(5, ge=1, description="size of the sliding window of evaluated frames")
    min_duration_s: float = Field(0.0, ge=0, description="k-of-n must keep holding this long before the alert starts")
    update_interval_s: float = Field(30.0, gt=0, description="while active, an update is sent at most this often")
    clear_s: float = Field(5.0, ge=0, description="the condition must be absent this long for the alert to end")
    cooldown_s: float = Field(60.0, ge=0, description="after an end, no new start for the same key until this passes")

    @model_validator(mode="after")
    def _k_within_n(self) -> "ConfirmConfig":
        if self.k > self.n:
            raise ValueError(f"k ({self.k}) cannot exceed n ({self.n})")
        return self


@dataclass
class KeyState:
    window: deque[bool]
    held_since: float | None = None
    active: bool = False
    started_at: float | None = None
    last_emit: float | None = None
    last_true: float | None = None
    ended_at: float | None = None
    episode: int = 0


@dataclass
class Confirmer:
    config: ConfirmConfig
    _states: dict[Hashable, KeyState] = field(default_factory=dict)
    _episodes: int = 0

    def step(self, key: Hashable, t: float, present: bool) -> Phase | None:
        """Feed one evaluation of ``key``'s condition at time ``t``; returns a phase to emit, if any."""
        s = self._states.get(key)
        if s is None:
            if not present:
                return None
            s = self._states[key] = KeyState(window=deque(maxlen=self.config.n))
        s.window.append(present)
        if present:
            s.last_true = t
        return self._active_step(s, t) if s.active else self._idle_step(s, t)

    def step_all(self, t: float, present: dict[Hashable, bool]) -> list[tuple[Hashable, Phase]]:
        """Step every key in ``present`` and every known key missing from it (as absent)."""
        out = []
        for key in list(present) + [k for k in self._states if k not in present]:
            phase = self.step(key, t, present.get(key, False))
            if phase:
                out.append((key, phase))
        self._forget_idle(t)
        return out

    def _idle_step(self, s: KeyState, t: float) -> Phase | None:
        if sum(s.window) < self.config.k:
            s.held_since = None
            return None
        if s.held_since is None:
            s.held_since = t
        cooling = s.ended_at is not None and t - s.ended_at < self.config.cooldown_s
        if t - s.held_since < self.config.min_duration_s or cooling:
            return None
        self._episodes += 1
        s.active, s.started_at, s.last_emit, s.episode = True, t, t, self._episodes
        return "start"

    def _active_step(self, s: KeyState, t: float) -> Phase | None:
        if s.last_true is not None and t - s.last_true >= self.config.clear_s and not s.window[-1]:
            s.active, s.ended_at, s.held_since = False, t, None
            s.window.clear()
            return "end"
        if s.window[-1] and s.last_emit is not None and t - s.last_emit >= self.config.update_interval_s:
            s.last_emit = t
            return "update"
        return None

    def _forget_idle(self, t: float) -> None:
        """Drop keys with nothing pending, so per-vehicle keys do not pile up."""
        stale = [
            k
            for k, s in self._states.items()
            if not s.active
            and not any(s.window)
            and (s.ended_at is None or t - s.ended_at >= self.config.cooldown_s)
        ]
        for k in stale:
            del self._states[k]

    def is_active(self, key: Hashable) -> bool:
        s = self._states.get(key)
        return bool(s and s.active)

    def started_at(self, key: Hashable) -> float | None:
        s = self._states.get(key)
        return s.started_at if s else None

    def held_since(self, key: Hashable) -> float | None:
        s = self._states.get(key)
        return s.held_since if s else None

    def episode(self, key: Hashable) -> int:
        s = self._states.get(key)
        return s.episode if s else 0
