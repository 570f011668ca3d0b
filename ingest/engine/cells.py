"""The cells of the engine's spatial index: one grid of cells per category, each cell holding the
observations that fell in it, in arrival order and grouped by cluster.

Plain classes with typed attributes, so that the compiled engine (mypyc) reads them directly; a
cell's key is a boxed ``(category, row, column)`` tuple (``CellKey``): typed as the fixed-size tuple
it is, compiled code would unpack it and build a new tuple for every dict lookup.
"""

from __future__ import annotations

import math
from collections.abc import Hashable
from typing import final

from ingest.engine.cluster import Cluster
from ingest.engine.links import PairRule
from ingest.engine.observation import Obs

CellKey = Hashable  # (category, row, column)


def cell_key(category: str, row: int, col: int) -> CellKey:
    return (category, row, col)


def block_of(category: str, row: int, col: int) -> tuple[CellKey, ...]:
    """The 3x3 block of cells around (``row``, ``col``), row by row."""
    return tuple([(category, r, c) for r in (row - 1, row, row + 1) for c in (col - 1, col, col + 1)])


@final
class Cell:
    """One cell: its observations in arrival order, the same grouped by cluster, and the earliest
    time one of them can be forgotten (event time + the category's window + the lateness)."""

    __slots__ = ("members", "groups", "expiry", "in_order", "window_s", "lateness_s")

    def __init__(self, window_s: float, lateness_s: float) -> None:
        self.members: list[Obs] = []
        self.groups: dict[Cluster, list[Obs]] = {}
        self.expiry = math.inf
        self.in_order = True  # arrival order is event-time order (the usual case)
        self.window_s = window_s
        self.lateness_s = lateness_s

    def add(self, obs: Obs, cluster: Cluster) -> None:
        members = self.members
        if members and obs.t < members[-1].t:
            self.in_order = False
        members.append(obs)
        group = self.groups.get(cluster)
        if group is None:
            self.groups[cluster] = [obs]
        else:
            group.append(obs)
        expiry = obs.t + self.window_s + self.lateness_s
        if expiry < self.expiry:
            self.expiry = expiry


@final
class Partner:
    """A category that observations of another may link to, with the side of its cells and the pair's rule."""

    __slots__ = ("category", "size_m", "rule")

    def __init__(self, category: str, size_m: float, rule: PairRule) -> None:
        self.category = category
        self.size_m = size_m
        self.rule = rule
