"""The incident engine: observations in, incidents out. Pure and deterministic.

It reads no clock and does no I/O. Observations that are evidence of one event (``links.py``)
form a cluster; a cluster becomes an incident once confirmed (``cluster.py``); an incident is
computed from its members alone (``render.py``). Because the link relation is symmetric and
confirmation only grows with members, the incidents do not depend on the order observations arrive
in, provided each arrives within ``lateness_s`` of the newest event time seen. An incident is named
after its earliest member; when a late, earlier member or a bridging observation changes that, the
result reports the old name as merged into the new one.

The same engine runs in the live ingest (batch by batch) and in ``gridwatch replay`` (whole file).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from itertools import pairwise
from typing import final

import numpy as np

from gridwatch.contracts import Incident, Observation
from ingest.engine.cells import Cell, CellKey, Partner, block_of, cell_key
from ingest.engine.cluster import Cluster
from ingest.engine.dedupe import SeenIds
from ingest.engine.geo import METRES_PER_DEG_LAT, cell_of
from ingest.engine.links import Links, PairRule, reason_under
from ingest.engine.observation import Obs, ObsReader
from ingest.engine.render import render_many
from ingest.engine.rules import EngineConfig
from ingest.grids import GridAssignment, GridIndex

PRUNE_EVERY_S = 600.0
BLOCKS_REMEMBERED = 100_000


@final
class Outcome:
    """What the engine did with one observation (``incident_id`` is filled in at the batch's end).

    Read-only by convention: a plain class rather than a frozen dataclass, whose generated
    ``__init__`` runs interpreted even in the compiled engine, and there is one per observation."""

    __slots__ = ("observation", "grid", "incident_id", "duplicate")

    def __init__(self, observation: Observation, grid: GridAssignment, incident_id: str | None = None,
                 duplicate: bool = False) -> None:
        self.observation = observation
        self.grid = grid
        self.incident_id = incident_id
        self.duplicate = duplicate

    def __repr__(self) -> str:
        return (f"Outcome(observation={self.observation.id!r}, grid={self.grid.grid_id!r}, "
                f"incident_id={self.incident_id!r}, duplicate={self.duplicate!r})")


@dataclass
class BatchResult:
    outcomes: list[Outcome] = field(default_factory=list)
    touched: dict[str, Incident] = field(default_factory=dict)  # current state of each changed incident
    merged: dict[str, str] = field(default_factory=dict)  # old incident id -> the id it lives on as
    reopened: set[str] = field(default_factory=set)  # resolved incidents that new evidence reopened
    expired: list[str] = field(default_factory=list)  # alert ids of clusters that were never confirmed
    raised: set[str] = field(default_factory=set)  # incidents confirmed in this batch


class IncidentEngine:
    def __init__(self, grids: GridIndex, config: EngineConfig | None = None, keep_finished: bool = True) -> None:
        """``keep_finished``: remember incidents that can no longer change (replay needs them for
        its output; the live ingest has stored them already and sets it False to bound memory)."""
        self.grids = grids
        self._keep_finished = keep_finished
        self.config = config or EngineConfig()
        self._corroborating, self._lateness_s = self.config.corroborating, self.config.lateness_s
        self._cell_m: dict[str, float] = {}  # category -> the side of its cells
        self._window_of: dict[str, float] = {}  # category -> its rule's window_s
        self._cells: dict[CellKey, Cell] = {}
        self._reach_of: dict[str, tuple[float, float]] = {}
        self._partners_of: dict[str, list[Partner]] = {}
        self._blocks: dict[CellKey, tuple[CellKey, ...]] = {}  # a cell's 3x3 block, remembered
        self._links = Links(self.config)
        self._reader = ObsReader(self.config)
        self._cluster_of: dict[str, Cluster] = {}
        self._seen = SeenIds()  # for the dedupe horizon
        self.watermark: float | None = None
        self._next_prune: float | None = None
        self._finished: dict[str, Incident] = {}  # confirmed clusters no longer able to change
        self._retired: list[tuple[Cluster, GridIndex]] = []  # ... not yet rendered (``finish`` does, in bulk)
        self._pending = BatchResult()
        self._touched: set[Cluster] = set()
        self._by_incident: dict[str, Cluster] = {}

    # -- public -------------------------------------------------------------------------------
    def process_batch(self, observations: list[Observation], grids: list[GridAssignment] | None = None,
                      publish: bool = True) -> BatchResult:
        """Handle a batch; return per-observation outcomes and the incidents it changed.

        ``publish=False`` (replay) skips computing the changed incidents: ``finish`` computes them all once."""
        if not grids and observations:
            grids = self.grids.assign_many(np.array([o.lat for o in observations]), np.array([o.lon for o in observations]))
        process = self._process
        outcomes = [process(o, g) for o, g in zip(observations, grids or ())]  # grids: None for an empty batch
        return self._close_batch(outcomes) if publish else BatchResult(outcomes=outcomes)

    def process(self, observation: Observation) -> BatchResult:
        return self.process_batch([observation])

    def finish(self) -> list[Incident]:
        """Every incident seen so far (replay's output): the finished ones and those still open to change."""
        live = {id(c): c for c in self._cluster_of.values()}.values()
        confirmed = [c for c in live if c.confirmed(self.config)]
        current = render_many(confirmed, self.grids, self._links)
        self._close_batch([], dict(zip(confirmed, current)))
        self._render_retired()
        incidents = {**self._finished, **{i.id: i for i in current}}
        return sorted(incidents.values(), key=lambda i: (i.first_seen, i.id))

    def sync_status(self, statuses: dict[str, str]) -> None:
        """Tell the engine what dispatchers did (incident id -> status), before the next batch."""
        for incident_id, status in statuses.items():
            cluster = self._by_incident.get(incident_id)
            if cluster is not None and incident_id in cluster.published:
                cluster.status = status

    def replace_grids(self, grids: GridIndex) -> None:
        """Use a reloaded grid map from the next incident computed on."""
        self.grids = grids

    # -- spatial index: one grid of cells per category ------------------------------------------
    def _cell_size(self, category: str) -> float:
        """Large enough that anything ``category`` links to, including corroborations, is in the 3x3 block."""
        c = self.config
        radii = [c.rule(category).radius_m]
        if category in c.corroborated or category in c.corroborating:
            radii += [c.rule(x).radius_m for x in c.corroborating]
        return max(radii) + 2 * c.uncertainty.max_m

    def _reach(self, category: str) -> tuple[float, float]:
        """Upper bounds on the time gap (s) and latitude difference (degrees) of any link of ``category``."""
        reach = self._reach_of.get(category)
        if reach is None:
            c = self.config
            partners = [category, *c.corroborating] if category in c.corroborated or category in c.corroborating else [category]
            window = max(c.rule(x).window_s for x in partners)
            reach = (window, self._cell_size(category) / METRES_PER_DEG_LAT)
            self._reach_of[category] = reach
        return reach

    def _size(self, category: str) -> float:
        size = self._cell_m.get(category)
        if size is None:
            size = self._cell_m[category] = self._cell_size(category)
            self._window_of[category] = self.config.rule(category).window_s
        return size

    def _key(self, category: str, lat: float, lon: float) -> CellKey:
        row, col = cell_of(lat, lon, self._size(category))
        return cell_key(category, row, col)

    def _partners(self, category: str) -> list[Partner]:
        """The categories ``category`` may link to (its own first), each with its cell size and the
        pair's rule (pairs that never link are left out)."""
        partners = self._partners_of.get(category)
        if partners is None:
            c = self.config
            categories = [category]
            if category in c.corroborating:
                categories += [x for x in c.corroborated if x != category]
            if category in c.corroborated:
                categories += [x for x in c.corroborating if x != category]
            partners = []
            for x in categories:
                rule = self._links.rule(category, x)
                if rule is not None:
                    partners.append(Partner(x, self._size(x), rule))
            self._partners_of[category] = partners
        return partners

    # -- one observation ----------------------------------------------------------------------
    def _process(self, observation: Observation, grid: GridAssignment) -> Outcome:
        if observation.id in self._seen:
            return Outcome(observation, grid, duplicate=True)
        obs = self._reader.read(observation)
        if obs.stated_grid is not None:
            obs.fix_grid = grid.grid_id  # looked up in bulk already; tells a correction from a pre-fill
        self._seen.remember(obs.id, obs.t)
        self._advance(obs.t)
        cluster = self._join(obs)
        self._touched.add(cluster)
        return Outcome(observation, grid)

    def _join(self, obs: Obs) -> Cluster:
        """Put ``obs`` in the cluster of everything it links to, merging clusters it bridges."""
        target = self._target(obs)
        self._reopen_if_resolved(target, obs)
        target.add(obs, self._corroborating)
        self._cluster_of[obs.id] = target
        category = obs.category
        row, col = cell_of(obs.lat, obs.lon, self._cell_m[category])  # ``_key``: ``_target`` sized the cells
        key = cell_key(category, row, col)
        cell = self._cells.get(key)
        if cell is None:
            cell = self._cells[key] = Cell(self._window_of[category], self._lateness_s)
        cell.add(obs, target)
        return target

    def _target(self, obs: Obs) -> Cluster:
        """The cluster ``obs`` joins: the largest of those it links to, the others merged into it
        (the first found in arrival order wins a tie), else a new one."""
        linked = self._linked(obs)
        if len(linked) < 2:
            return linked[0] if linked else Cluster()
        linked = self._linked_in_arrival_order(obs)
        target = max(linked, key=lambda c: len(c.members))
        for cluster in linked:
            if cluster is not target:
                self._merge(target, cluster)
        return target

    def _neighbourhood(self, obs: Obs) -> Iterator[tuple[CellKey, PairRule]]:
        """The cells ``obs`` might find links in (the 3x3 block of each partner category), with the
        pair's rule."""
        for partner in self._partners(obs.category):
            row, col = cell_of(obs.lat, obs.lon, partner.size_m)
            for key in block_of(partner.category, row, col):
                yield key, partner.rule

    def _linked(self, obs: Obs) -> list[Cluster]:
        """The clusters ``obs`` links to, cluster by cluster: one that is closed or out of reach as a
        whole is skipped at once, and a cluster's members are tried newest first, so the first
        link usually comes at once."""
        linked: list[Cluster] = []
        done: set[Cluster] = set()  # clusters linked, closed, or out of reach as a whole
        window, reach_deg = self._reach(obs.category)
        t, lat, lon = obs.t, obs.lat, obs.lon
        lon_reach = 4 * reach_deg  # ``Cluster.may_reach``'s bounds, inline: it runs for every cluster nearby
        cells, blocks = self._cells, self._blocks
        for partner in self._partners(obs.category):
            rule = partner.rule
            gap = min(window, rule.window_s)  # a pair further apart in time never links
            row, col = cell_of(lat, lon, partner.size_m)
            key = cell_key(partner.category, row, col)
            block = blocks.get(key)
            for near in block if block is not None else self._block(key, partner.category, row, col):
                cell = cells.get(near)
                if cell is None:
                    continue
                for cluster, members in cell.groups.items():
                    if cluster in done:
                        continue
                    if cluster.status == "closed" or not (
                            cluster.t_min - window <= t <= cluster.t_max + window
                            and cluster.lat_min - reach_deg <= lat <= cluster.lat_max + reach_deg
                            and cluster.lon_min - lon_reach <= lon <= cluster.lon_max + lon_reach):
                        done.add(cluster)
                        continue
                    for other in reversed(members):
                        # |a - b| <= c as -c <= a - b <= c: the same test without two calls of abs()
                        if -gap <= other.t - t <= gap and -reach_deg <= other.lat - lat <= reach_deg \
                                and reason_under(obs, other, rule) is not None:
                            linked.append(cluster)
                            done.add(cluster)
                            break
        return linked

    def _block(self, key: CellKey, category: str, row: int, col: int) -> tuple[CellKey, ...]:
        """The 3x3 block of cells around ``key``, remembered (the same few cells come up again and again)."""
        if len(self._blocks) >= BLOCKS_REMEMBERED:
            self._blocks.clear()  # a bound for a long-running ingest over a large area
        block = self._blocks[key] = block_of(category, row, col)
        return block

    def _linked_in_arrival_order(self, obs: Obs) -> list[Cluster]:
        """The same clusters as ``_linked``, in the order their first linking member comes in the
        cells' arrival order (which decides the target of a merge, and so its members' order)."""
        linked: list[Cluster] = []
        skip: set[Cluster] = set()  # clusters already linked, closed, or out of reach as a whole
        window, reach_deg = self._reach(obs.category)
        t, lat = obs.t, obs.lat
        for key, rule in self._neighbourhood(obs):
            gap = min(window, rule.window_s)
            cell = self._cells.get(key)
            for other in cell.members if cell is not None else ():
                if abs(other.t - t) > gap or abs(other.lat - lat) > reach_deg:
                    continue  # cheap bounds before the exact test
                cluster = self._cluster_of[other.id]
                if cluster in skip:
                    continue
                if cluster.status == "closed" or not cluster.may_reach(obs, window, reach_deg):
                    skip.add(cluster)
                    continue
                if reason_under(obs, other, rule) is not None:
                    linked.append(cluster)
                    skip.add(cluster)
        return linked

    def _merge(self, target: Cluster, other: Cluster) -> None:
        target.absorb(other)
        for member in other.members:
            self._cluster_of[member.id] = target
        for key in {self._key(m.category, m.lat, m.lon) for m in other.members}:
            cell = self._cells.get(key)
            group = cell.groups if cell is not None else None
            if group and other in group:
                group.setdefault(target, []).extend(group.pop(other))
        self._touched.discard(other)

    def _reopen_if_resolved(self, cluster: Cluster, obs: Obs) -> None:
        """New evidence reopens a resolved incident; only a patrol report reopens a dismissed one."""
        if cluster.status == "resolved" or (cluster.status == "dismissed" and obs.kind == "report"):
            cluster.status = "open"
            self._pending.reopened.update(cluster.published)

    # -- batch end ----------------------------------------------------------------------------
    def _close_batch(self, outcomes: list[Outcome], rendered: dict[Cluster, Incident] | None = None) -> BatchResult:
        """``rendered``: incidents of clusters already computed (``finish``)."""
        result, self._pending = self._pending, BatchResult()
        confirmed = [c for c in self._touched if c.confirmed(self.config)]
        rendered = rendered or {}
        missing = [c for c in confirmed if c not in rendered]
        rendered.update(zip(missing, render_many(missing, self.grids, self._links)))
        for cluster in confirmed:
            self._publish(cluster, rendered[cluster], result)
        self._touched = set()
        result.outcomes = [self._with_incident(o) for o in outcomes]
        return result

    def _publish(self, cluster: Cluster, incident: Incident, result: BatchResult) -> None:
        if not cluster.published:
            result.raised.add(incident.id)
        for old in cluster.published - {incident.id}:
            result.merged[old] = incident.id
            result.touched.pop(old, None)
        result.reopened = {incident.id if i in cluster.published else i for i in result.reopened}
        for old in cluster.published:
            self._by_incident.pop(old, None)
        cluster.published = {incident.id}
        self._by_incident[incident.id] = cluster
        if cluster.status != incident.status:
            incident = incident.model_copy(update={"status": cluster.status})
        result.touched[incident.id] = incident

    def _with_incident(self, outcome: Outcome) -> Outcome:
        if outcome.duplicate:
            return outcome
        cluster = self._cluster_of.get(outcome.observation.id)
        incident_id = next(iter(cluster.published), None) if cluster is not None else None
        return Outcome(outcome.observation, outcome.grid, incident_id)

    # -- forgetting ---------------------------------------------------------------------------
    def _advance(self, t: float) -> None:
        """Move the watermark; every minute of event time, forget what nothing can link to any more."""
        if self.watermark is not None and t <= self.watermark:
            return
        self.watermark = t
        if self._next_prune is not None and t < self._next_prune:
            return
        self._next_prune = t + PRUNE_EVERY_S
        for key, cell in [(k, c) for k, c in self._cells.items() if c.expiry < t]:
            self._prune_cell(key, cell, t)
        self._seen.forget_before(t - self.config.dedupe_horizon_s)

    def _prune_cell(self, key: CellKey, cell: Cell, now: float) -> None:
        """Forget the cell's observations that nothing arriving within the lateness can link to."""
        window, lateness = cell.window_s, cell.lateness_s
        members = cell.members
        if not cell.in_order:
            expired: Sequence[int] = [i for i, obs in enumerate(members) if obs.t + window + lateness < now]
        else:  # in event-time order (the usual case): the expired ones are the oldest, at the front
            n = 0
            while n < len(members) and members[n].t + window + lateness < now:  # adding constants is monotone
                n += 1
            expired = range(n)
        losing: dict[Cluster, None] = {}  # clusters that lose members here
        for i in expired:
            cluster = self._cluster_of[members[i].id]
            losing[cluster] = None
            cluster.live -= 1
            if cluster.live == 0:
                self._retire(cluster)
        if expired and len(expired) == expired[-1] + 1:  # the usual case: the oldest arrived first
            keep = members[len(expired):]
        else:
            gone = set(expired)
            keep = [obs for i, obs in enumerate(members) if i not in gone]
        if keep:
            cell.members = keep
            if not cell.in_order and all(a.t <= b.t for a, b in pairwise(keep)):
                cell.in_order = True
            # adding a constant is monotone in floating point: the same as the least expiry
            earliest = keep[0].t if cell.in_order else min([obs.t for obs in keep])
            cell.expiry = earliest + window + lateness
            group = cell.groups
            for cluster in losing:
                kept = [o for o in group.pop(cluster) if o.t + window + lateness >= now]
                if kept:
                    group[cluster] = kept
        else:
            del self._cells[key]

    def _retire(self, cluster: Cluster) -> None:
        """A cluster nothing can join any more: keep its incident, or expire its unconfirmed alerts."""
        if cluster.confirmed(self.config):
            if self._keep_finished:
                self._retired.append((cluster, self.grids))
        else:
            self._pending.expired.extend(o.id for o in cluster.members if o.kind == "alert")
        for member in cluster.members:
            del self._cluster_of[member.id]
        for incident_id in cluster.published:
            self._by_incident.pop(incident_id, None)
        self._touched.discard(cluster)

    def _render_retired(self) -> None:
        """Compute the incidents of retired clusters, in bulk, each on the grid map of its time."""
        retired, self._retired = self._retired, []
        start = 0
        while start < len(retired):
            grids = retired[start][1]
            end = start
            while end < len(retired) and retired[end][1] is grids:
                end += 1
            for incident in render_many([c for c, _ in retired[start:end]], grids, self._links):
                self._finished[incident.id] = incident
            start = end
