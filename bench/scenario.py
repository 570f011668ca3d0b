"""A simulated district with ground truth: grid map, compounds with cameras and buttons, and days of
real events seen through noisy sensors, plus detector false alarms, re-sent and late messages.

Every observation is labelled with the event it came from (None for a false alarm), so the
incidents any engine raises can be scored (``score``). Reproducible: one seed, one scenario.

What is modelled, per event category:
- fire: 1-3 cameras of the compound see it, each sending an alert every 20-60 s (position error
  ~8 m, confidence 0.45-0.95, fire or smoke) for 5-40 min; half the time a patrol reports it
  5-20 min in (GPS error ~15 m, or the accuracy the phone states); sometimes a resident presses a button within 60 m.
- crowd: one camera, alerts every 60-120 s for 5-60 min, 10-100 people, confidence 0.55-0.9.
- parking: one camera zone; a car's alerts every 5 min once its dwell limit passed, for 10-180 min;
  a third of the time a second car in the neighbouring bay (3 m away, its own track); one track in
  ten is lost and found again under a new id.
- alarm: a button pressed 1-5 times within two minutes.
- hazard / dispute: patrol reports; a second report of the same hazard 30-120 min later by another
  worker, sometimes with a stated GPS accuracy.
- Every patrol report is filed under a grid (``grid_id``): the patrol app pre-fills the grid of the
  GPS fix and the worker corrects it, when the fix landed across a border, with probability
  ``grid_correction`` (0 = the app's guess only, which is no more than the position tells).
- Some events recur at the same place the next day: a new event.
Noise: per camera and day, single weak hits (confidence 0.2-0.55) and short bursts (3-5 alerts in
5-20 s, confidence 0.4-0.75); 2 % of alerts re-sent; small network delays; twice a day one
compound's edge box is cut off for 10-60 min and then sends its spool in a burst.
"""

from __future__ import annotations

import argparse
import math
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import numpy as np

from gridwatch.contracts import Alert, Observation, PatrolReport, event_time
from gridwatch.gridmap import parse_grid_map
from ingest.grids import GridIndex

START = datetime(2026, 9, 7, tzinfo=timezone.utc)
CENTRE = (37.86, 112.55)
M_LAT = 1 / 111_195  # degrees of latitude per metre
M_LON = M_LAT / math.cos(math.radians(CENTRE[0]))
MIX = {"parking": 0.33, "crowd": 0.14, "alarm": 0.14, "fire": 0.06, "hazard": 0.22, "dispute": 0.11}


@dataclass(frozen=True)
class Event:
    id: str
    category: str
    lat: float
    lon: float
    start: datetime


@dataclass
class Scenario:
    grid_map: dict[str, Any]
    observations: list[Observation]  # in arrival order
    truth: dict[str, str | None]  # observation id -> event id
    events: dict[str, Event] = field(default_factory=dict)

    def grid_index(self) -> GridIndex:
        """The district's grid map, indexed as the ingest indexes a map it loads."""
        return GridIndex(parse_grid_map(self.grid_map, Path("scenario")))


@dataclass
class Site:
    id: str
    lat: float
    lon: float
    cameras: list[tuple[str, float, float]]
    buttons: list[tuple[str, float, float]]


def grid_map(size_m: float = 4000.0) -> dict[str, Any]:
    """District, 2x2 streets, 2x2 communities each, 2x2 grids, 2x2 micro-grids (250 m squares)."""
    lat0, lon0 = CENTRE[0] - size_m / 2 * M_LAT, CENTRE[1] - size_m / 2 * M_LON
    features: list[dict[str, Any]] = []

    def add(fid: str, level: str, parent: str | None, x: float, y: float, w: float) -> None:
        a, b = lon0 + x * M_LON, lat0 + y * M_LAT
        c, d = lon0 + (x + w) * M_LON, lat0 + (y + w) * M_LAT
        ring = [[a, b], [c, b], [c, d], [a, d], [a, b]]
        features.append({"type": "Feature", "geometry": {"type": "Polygon", "coordinates": [ring]},
                         "properties": {"id": fid, "name": fid, "level": level, "parent_id": parent}})

    def split(fid: str, level_index: int, x: float, y: float, w: float) -> None:
        levels = ("district", "street", "community", "grid", "micro_grid")
        add(fid, levels[level_index], fid.rsplit("-", 1)[0] if level_index else None, x, y, w)
        if level_index + 1 < len(levels):
            for i in range(2):
                for j in range(2):
                    split(f"{fid}-{i}{j}", level_index + 1, x + i * w / 2, y + j * w / 2, w / 2)

    split("D", 0, 0.0, 0.0, size_m)
    return {"type": "FeatureCollection", "features": features}


class Generator:
    def __init__(self, seed: int, days: int, sites: int, events_per_day: int, grid_correction: float = 0.8) -> None:
        self.rng = np.random.default_rng(seed)
        self.grids = GridIndex(parse_grid_map(grid_map(), Path("scenario")))
        self.grid_correction = grid_correction
        self.days, self.events_per_day = days, events_per_day
        self.sites = [self._site(i) for i in range(sites)]
        self.workers = [f"w-{i:03d}" for i in range(max(4, sites // 3))]
        self.items: list[tuple[datetime, Observation, str | None]] = []  # (arrival, observation, event)
        self.events: dict[str, Event] = {}

    # -- helpers ------------------------------------------------------------------------------
    def _id(self, prefix: str) -> str:
        return f"{prefix}-{uuid.UUID(bytes=self.rng.bytes(16)).hex}"

    def _jitter(self, lat: float, lon: float, sigma_m: float) -> tuple[float, float]:
        dy, dx = self.rng.normal(0, sigma_m, 2)
        return lat + dy * M_LAT, lon + dx * M_LON

    def _offset(self, lat: float, lon: float, dist_m: float) -> tuple[float, float]:
        angle = self.rng.uniform(0, 2 * math.pi)
        return lat + dist_m * math.sin(angle) * M_LAT, lon + dist_m * math.cos(angle) * M_LON

    def _site(self, i: int) -> Site:
        lat, lon = CENTRE[0] + self.rng.uniform(-1800, 1800) * M_LAT, CENTRE[1] + self.rng.uniform(-1800, 1800) * M_LON
        cams = [(f"cam-{i:03d}-{k}", *self._offset(lat, lon, self.rng.uniform(10, 90))) for k in range(self.rng.integers(2, 5))]
        btns = [(f"btn-{i:03d}-{k}", *self._offset(lat, lon, self.rng.uniform(5, 80))) for k in range(self.rng.integers(1, 4))]
        return Site(f"site-{i:03d}", lat, lon, cams, btns)

    def _alert(self, event: str | None, at: datetime, category: str, type_: str, device: str, site: Site,
               pos: tuple[float, float], confidence: float, **attributes: Any) -> None:
        alert = Alert(id=self._id("a"), category=category, type=type_, device_id=device, site_id=site.id,
                      lat=pos[0], lon=pos[1], observed_at=at, confidence=round(confidence, 3), attributes=attributes)
        self._send(alert, at, event)
        if self.rng.random() < 0.02:  # a retry re-sends the same alert
            self._send(alert, at + timedelta(seconds=float(self.rng.uniform(1, 30))), event)

    def _filed_grid(self, event: str, pos: tuple[float, float]) -> str | None:
        """The grid a worker files a report under: the app's guess from the fix, corrected or not."""
        guess = self.grids.assign(*pos).grid_id
        true = self.events[event]
        actual = self.grids.assign(true.lat, true.lon).grid_id
        corrects = self.rng.random() < self.grid_correction  # drawn always: one stream whatever the setting
        return actual if guess != actual and corrects else guess

    def _report(self, event: str, at: datetime, category: str, where: tuple[float, float], worker: str) -> None:
        """A patrol report of the thing at ``where``: a GPS fix ~15 m off, or off by the accuracy the
        phone states (one sigma) when it states one."""
        extra: dict[str, Any] = {}
        if self.rng.random() < 0.4:
            extra["accuracy_m"] = round(float(self.rng.uniform(5, 30)), 1)
        pos = self._jitter(*where, extra.get("accuracy_m", 15.0))
        extra["grid_id"] = self._filed_grid(event, pos)
        report = PatrolReport(id=self._id("r"), category=category, worker_id=worker, lat=pos[0], lon=pos[1],
                              reported_at=at, text=f"{category} seen on patrol", **extra)
        self._send(report, at + timedelta(seconds=float(self.rng.uniform(5, 300))), event)

    def _send(self, observation: Observation, arrival: datetime, event: str | None) -> None:
        delay = float(self.rng.lognormal(-1.2, 0.8)) + (float(self.rng.uniform(1, 60)) if self.rng.random() < 0.03 else 0)
        self.items.append((arrival + timedelta(seconds=delay), observation, event))

    def _event(self, category: str, lat: float, lon: float, start: datetime) -> str:
        event = Event(self._id("e"), category, lat, lon, start)
        self.events[event.id] = event
        return event.id

    def _every(self, start: datetime, minutes: float, step_s: tuple[float, float]) -> list[datetime]:
        times, t = [], start
        while t <= start + timedelta(minutes=minutes):
            times.append(t)
            t += timedelta(seconds=float(self.rng.uniform(*step_s)))
        return times

    # -- events -------------------------------------------------------------------------------
    def fire(self, site: Site, start: datetime) -> str:
        cam = site.cameras[self.rng.integers(len(site.cameras))]
        pos = self._offset(cam[1], cam[2], self.rng.uniform(10, 70))
        event = self._event("fire", *pos, start)
        seeing = [c for c in site.cameras if self.rng.random() < 0.6 or c is cam]
        duration = self.rng.uniform(5, 40)
        for device, *_ in seeing:
            kind = "smoke" if self.rng.random() < 0.5 else "fire"
            for at in self._every(start + timedelta(seconds=float(self.rng.uniform(0, 60))), duration, (20, 60)):
                self._alert(event, at, "fire", kind, device, site, self._jitter(*pos, 8), self.rng.uniform(0.45, 0.95),
                            area_ratio=round(float(self.rng.uniform(0.01, 0.2)), 3))
        if self.rng.random() < 0.5:
            at = start + timedelta(minutes=float(self.rng.uniform(5, 20)))
            self._report(event, at, "fire", pos, self.rng.choice(self.workers))
        self._press_nearby(event, site, pos, start)
        return event

    def _press_nearby(self, event: str, site: Site, pos: tuple[float, float], start: datetime) -> None:
        for device, blat, blon in site.buttons:
            near = math.hypot((blat - pos[0]) / M_LAT, (blon - pos[1]) / M_LON) < 55
            if near and self.rng.random() < 0.4:
                at = start + timedelta(seconds=float(self.rng.uniform(10, 120)))
                self._alert(event, at, "alarm", "alarm_button", device, site, (blat, blon), 1.0, press="single")

    def crowd(self, site: Site, start: datetime, pos: tuple[float, float] | None = None) -> str:
        cam = site.cameras[self.rng.integers(len(site.cameras))]
        pos = pos or self._offset(cam[1], cam[2], self.rng.uniform(10, 50))
        event = self._event("crowd", *pos, start)
        count = int(self.rng.integers(10, 100))
        for at in self._every(start, self.rng.uniform(5, 60), (60, 120)):
            self._alert(event, at, "crowd", "crowd_gathering", cam[0], site, self._jitter(*pos, 4),
                        self.rng.uniform(0.55, 0.9), count=count, zone=f"{cam[0]}:square")
        return event

    def parking(self, site: Site, start: datetime) -> list[str]:
        cam = site.cameras[self.rng.integers(len(site.cameras))]
        bay = self._offset(cam[1], cam[2], self.rng.uniform(10, 40))
        cars = [bay] + ([(bay[0], bay[1] + 3 * M_LON)] if self.rng.random() < 0.33 else [])
        events = []
        for n, pos in enumerate(cars):
            event = self._event("parking", *pos, start)
            events.append(event)
            track = f"{cam[0]}:{self.rng.integers(1, 10**6)}"
            times = self._every(start + timedelta(minutes=n * float(self.rng.uniform(0, 20))), self.rng.uniform(10, 180), (290, 310))
            lost_at = len(times) // 2 if self.rng.random() < 0.1 else None
            for i, at in enumerate(times):
                if i == lost_at:
                    track = f"{cam[0]}:{self.rng.integers(1, 10**6)}"
                self._alert(event, at, "parking", "illegal_parking", cam[0], site, self._jitter(*pos, 0.4),
                            self.rng.uniform(0.6, 0.95), track_id=track, zone=f"{cam[0]}:fire-lane",
                            zone_kind="fire_lane", dwell_s=300 * (i + 1))
        return events

    def alarm(self, site: Site, start: datetime) -> str:
        device, lat, lon = site.buttons[self.rng.integers(len(site.buttons))]
        event = self._event("alarm", lat, lon, start)
        for k in range(int(self.rng.integers(1, 6))):
            self._alert(event, start + timedelta(seconds=k * float(self.rng.uniform(5, 25))), "alarm", "alarm_button",
                        device, site, (lat, lon), 1.0, press="single")
        return event

    def reports(self, category: str, site: Site, start: datetime, pos: tuple[float, float] | None = None) -> str:
        pos = pos or self._offset(site.lat, site.lon, self.rng.uniform(0, 150))
        event = self._event(category, *pos, start)
        self._report(event, start, category, pos, self.rng.choice(self.workers))
        if self.rng.random() < (0.4 if category == "hazard" else 0.3):
            later = start + timedelta(minutes=float(self.rng.uniform(30, 120) if category == "hazard" else self.rng.uniform(5, 30)))
            self._report(event, later, category, pos, self.rng.choice(self.workers))
        return event

    def false_alarms(self, day: datetime) -> None:
        for site in self.sites:
            for device, clat, clon in site.cameras:
                for _ in range(self.rng.poisson(2)):
                    at = day + timedelta(seconds=float(self.rng.uniform(0, 86400)))
                    category = str(self.rng.choice(["crowd", "parking", "fire"]))
                    self._alert(None, at, category, f"{category}_detection", device, site,
                                self._offset(clat, clon, self.rng.uniform(5, 60)), self.rng.uniform(0.2, 0.55))
                for _ in range(self.rng.poisson(0.5)):
                    at = day + timedelta(seconds=float(self.rng.uniform(0, 86400)))
                    category = str(self.rng.choice(["crowd", "parking"]))
                    pos = self._offset(clat, clon, self.rng.uniform(5, 60))
                    for k in range(int(self.rng.integers(3, 6))):
                        self._alert(None, at + timedelta(seconds=k * float(self.rng.uniform(1, 5))), category,
                                    f"{category}_detection", device, site, self._jitter(*pos, 3), self.rng.uniform(0.4, 0.75))

    # -- days ---------------------------------------------------------------------------------
    def day(self, day: datetime, recurring: list[tuple[str, Site, tuple[float, float]]]) -> list[tuple[str, Site, tuple[float, float]]]:
        again = []
        for category, site, pos in recurring:  # the same place, the next evening: a new event
            start = day + timedelta(hours=float(self.rng.uniform(17, 22)))
            (self.crowd(site, start, pos) if category == "crowd" else self.reports(category, site, start, pos))
        for _ in range(self.events_per_day):
            site = self.sites[self.rng.integers(len(self.sites))]
            start = day + timedelta(seconds=float(self.rng.uniform(0, 86400 - 3 * 3600)))
            category = str(self.rng.choice(list(MIX), p=list(MIX.values())))
            if category == "parking":
                self.parking(site, start)
                continue
            event = getattr(self, category)(site, start) if category in ("fire", "crowd", "alarm") else self.reports(category, site, start)
            if category in ("crowd", "hazard") and self.rng.random() < 0.15:
                e = self.events[event]
                again.append((category, site, (e.lat, e.lon)))
        self.false_alarms(day)
        return again

    def outages(self) -> None:
        """Twice a day a compound's edge box is cut off, then sends its spool in one burst."""
        for d in range(self.days):
            for _ in range(2):
                site = self.sites[self.rng.integers(len(self.sites))]
                begin = START + timedelta(days=d, seconds=float(self.rng.uniform(0, 80000)))
                end = begin + timedelta(minutes=float(self.rng.uniform(10, 60)))
                devices = {c[0] for c in site.cameras} | {b[0] for b in site.buttons}
                for i, (arrival, obs, event) in enumerate(self.items):
                    if isinstance(obs, Alert) and obs.device_id in devices and begin <= obs.observed_at < end:
                        self.items[i] = (end + timedelta(seconds=float(self.rng.uniform(0, 30))), obs, event)

    def build(self) -> Scenario:
        recurring: list[tuple[str, Site, tuple[float, float]]] = []
        for d in range(self.days):
            recurring = self.day(START + timedelta(days=d), recurring)
        self.outages()
        self.items.sort(key=lambda item: (item[0], item[1].id))
        return Scenario(grid_map(), [o for _, o, _ in self.items], {o.id: e for _, o, e in self.items}, self.events)


def generate(seed: int, days: int = 1, sites: int = 40, events_per_day: int = 300,
             grid_correction: float = 0.8) -> Scenario:
    return Generator(seed, days, sites, events_per_day, grid_correction).build()


def first_time(observations: list[Observation]) -> datetime:
    return min(event_time(o) for o in observations)


def add_district_arguments(parser: argparse.ArgumentParser, seeds: list[int]) -> None:
    """The options that choose the simulated districts a bench runs on (``districts``)."""
    parser.add_argument("--seeds", type=int, nargs="+", default=seeds)
    parser.add_argument("--days", type=int, default=2)
    parser.add_argument("--sites", type=int, default=40)
    parser.add_argument("--events-per-day", type=int, default=300)
    parser.add_argument("--grid-correction", type=float, default=0.8,
                        help="chance a worker corrects the patrol app's pre-filled grid when the GPS fix is across "
                             "a border (0: reports carry only what their position says)")


def districts(args: argparse.Namespace) -> Iterator[tuple[int, Scenario, GridIndex]]:
    """Each seed of ``add_district_arguments``' options with its scenario and indexed grid map."""
    for seed in args.seeds:
        scenario = generate(seed, args.days, args.sites, args.events_per_day, args.grid_correction)
        yield seed, scenario, scenario.grid_index()
