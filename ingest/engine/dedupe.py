"""The observation ids the engine has seen lately, to drop a re-sent copy (within the dedupe horizon)."""

from __future__ import annotations

import math
from typing import Final, final

SLICE_S: Final = 600.0  # ids are filed under the slice of event time they fall in, this long


@final
class SeenIds:
    """Observation ids with the event time each was last seen at, forgotten oldest first.

    Each id is also filed under its slice of event time, so forgetting everything before a horizon
    visits the slices up to the horizon's and nothing newer: no heap to keep in order as ids come in."""

    __slots__ = ("_time_of", "_slices", "_first")

    def __init__(self) -> None:
        self._time_of: dict[str, float] = {}
        self._slices: dict[int, list[str]] = {}
        self._first = 0  # no slice before this one is filed (meaningful once one is)

    def __contains__(self, observation_id: str) -> bool:
        return observation_id in self._time_of

    def __len__(self) -> int:
        return len(self._time_of)

    def remember(self, observation_id: str, t: float) -> None:
        self._time_of[observation_id] = t
        k = math.floor(t / SLICE_S)
        ids = self._slices.get(k)
        if ids is None:
            if not self._slices or k < self._first:
                self._first = k
            self._slices[k] = [observation_id]
        else:
            ids.append(observation_id)

    def forget_before(self, horizon: float) -> None:
        """Forget every id last seen at an event time before ``horizon``."""
        if not self._slices:
            return
        time_of, slices = self._time_of, self._slices
        last = math.floor(horizon / SLICE_S)  # the horizon's slice, only partly before it
        for k in range(self._first, last):  # wholly before it
            ids = slices.pop(k, None)
            if ids is not None:
                for observation_id in ids:
                    t = time_of.get(observation_id)
                    if t is not None and t < horizon:  # (else seen again since, later)
                        del time_of[observation_id]
        ids = slices.get(last)
        if ids is not None:
            for observation_id in ids:
                t = time_of.get(observation_id)
                if t is not None and t < horizon:
                    del time_of[observation_id]
            kept = [observation_id for observation_id in ids if observation_id in time_of]
            if kept:
                slices[last] = kept
            else:
                del slices[last]
        if last > self._first:
            self._first = last
