"""Crowd gathering: enough people in a zone for long enough, or a dense cluster on the ground.

Pure: detections and frame time in, ``AlertDecision``s out. People are counted by their
bottom-centre anchor in the zone (standing there, not merely overlapping it). The cluster test
needs a ground-plane calibration, because "within 1.5 m of each other" means nothing in pixels
that shrink with distance from the camera.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, model_validator

from detectors.calibration import GroundPlane
from detectors.confirm import ConfirmConfig, Confirmer
from detectors.labels import PERSON
from detectors.types import AlertDecision, Detections, Phase
from detectors.zones import Zone

CATEGORY, TYPE = "crowd", "crowd_gathering"


class CrowdZoneConfig(BaseModel):
    """A zone's crowd rule (``zones[].crowd`` in the site file)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    min_people: int | None = Field(10, ge=1, description="people in the zone at or above which it is crowded")
    min_duration_s: float = Field(30.0, ge=0, description="how long the zone must stay crowded before alerting")
    cluster_distance_m: float | None = Field(
        None, gt=0, description="people this close on the ground join one cluster (needs camera calibration)"
    )
    min_cluster_size: int = Field(5, ge=2, description="cluster size that counts as a gathering")
    min_confidence: float = Field(0.35, ge=0, le=1, description="person boxes below this score are not counted")
    duplicate_overlap: float | None = Field(
        0.8, gt=0, le=1, description="two person boxes where the smaller lies at least this share inside the "
        "other are one person seen twice (tile seams, a torso and a whole body): only the higher score counts; "
        "None counts every box"
    )

    @model_validator(mode="after")
    def _something_to_test(self) -> "CrowdZoneConfig":
        if self.min_people is None and self.cluster_distance_m is None:
            raise ValueError("set min_people, cluster_distance_m, or both")
        return self


def drop_nested(people: Detections, overlap: float | None) -> Detections:
    """Of two boxes where the smaller lies at least ``overlap`` inside the other (intersection over
    the smaller's area), only the higher-scoring one stays: one person seen twice.

    >>> d = Detections.from_arrays([[0, 0, 10, 20], [1, 1, 9, 12], [20, 0, 30, 20]], [0.9, 0.5, 0.4], [0, 0, 0], ("person",))
    >>> len(drop_nested(d, 0.8)), len(drop_nested(d, None))
    (2, 3)
    """
    if overlap is None or len(people) < 2:
        return people
    order = np.argsort(-people.confidence, kind="stable")
    xyxy, kept = people.xyxy, []
    for i in order:
        if kept:
            k = xyxy[kept]
            wh = np.clip(np.minimum(k[:, 2:], xyxy[i, 2:]) - np.maximum(k[:, :2], xyxy[i, :2]), 0, None)
            smaller = np.maximum(np.minimum(_area(k), _area(xyxy[i : i + 1])), 1e-6)
            if float((wh[:, 0] * wh[:, 1] / smaller).max()) >= overlap:
                continue
        kept.append(int(i))
    return people[np.sort(np.asarray(kept, dtype=np.int64))]


def _area(xyxy: np.ndarray) -> np.ndarray:
    return np.prod(np.clip(xyxy[:, 2:] - xyxy[:, :2], 0, None), axis=1)


def largest_cluster(points_m: np.ndarray, distance_m: float) -> np.ndarray:
    """Indices of the largest single-linkage cluster (pairs within ``distance_m`` join)."""
    n = len(points_m)
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    parent = list(range(n))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    d = np.linalg.norm(points_m[:, None, :] - points_m[None, :, :], axis=2)
    for i, j in zip(*np.nonzero(np.triu(d <= distance_m, k=1))):
        parent[find(int(i))] = find(int(j))
    roots = np.array([find(i) for i in range(n)])
    best = np.bincount(roots).argmax()
    return np.nonzero(roots == best)[0]


@dataclass(frozen=True)
class ZoneReading:
    count: int
    cluster_size: int
    crowded: bool
    people: Detections


@dataclass
class CrowdRule:
    zones: list[tuple[Zone, CrowdZoneConfig]]
    confirm: ConfirmConfig = field(default_factory=ConfirmConfig)
    ground: GroundPlane | None = None
    _confirmers: dict[str, Confirmer] = field(default_factory=dict)
    _peak: dict[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for zone, cfg in self.zones:
            if cfg.cluster_distance_m is not None and self.ground is None:
                raise ValueError(f"zone {zone.id}: cluster_distance_m needs the camera's calibration")
            per_zone = self.confirm.model_copy(update={"min_duration_s": cfg.min_duration_s})
            self._confirmers[zone.id] = Confirmer(per_zone)

    def read(self, zone: Zone, cfg: CrowdZoneConfig, detections: Detections) -> ZoneReading:
        people = drop_nested(zone.inside(detections.of_classes(PERSON).above(cfg.min_confidence)), cfg.duplicate_overlap)
        cluster = 0
        if cfg.cluster_distance_m is not None and self.ground is not None and len(people):
            cluster = len(largest_cluster(self.ground.to_metres(people.anchors()), cfg.cluster_distance_m))
        crowded = (cfg.min_people is not None and len(people) >= cfg.min_people) or (
            cfg.cluster_distance_m is not None and cluster >= cfg.min_cluster_size
        )
        return ZoneReading(len(people), cluster, bool(crowded), people)

    def update(self, detections: Detections, t: float) -> list[AlertDecision]:
        out = []
        for zone, cfg in self.zones:
            reading = self.read(zone, cfg, detections)
            confirmer = self._confirmers[zone.id]
            before = confirmer.held_since(zone.id)
            phase = confirmer.step(zone.id, t, reading.crowded)
            if reading.crowded or confirmer.is_active(zone.id) or phase == "end":
                self._peak[zone.id] = max(self._peak.get(zone.id, 0), reading.count)
            if phase:
                since = confirmer.held_since(zone.id) or before
                out.append(self._decision(phase, zone, cfg, reading, t, since, confirmer))
            if not confirmer.is_active(zone.id) and not reading.crowded:
                self._peak.pop(zone.id, None)
        return out

    def _decision(
        self, phase: Phase, zone: Zone, cfg: CrowdZoneConfig, r: ZoneReading, t: float,
        since: float | None, confirmer: Confirmer,
    ) -> AlertDecision:
        began = since if since is not None else confirmer.started_at(zone.id) or t
        conf = float(np.mean(r.people.confidence)) if len(r.people) else 0.0
        return AlertDecision(
            phase=phase,
            category=CATEGORY,
            type=TYPE,
            zone_id=zone.id,
            episode=f"{TYPE}/{zone.id}/{confirmer.episode(zone.id)}",
            t=t,
            confidence=round(conf, 3),
            attributes={
                "count": r.count,
                "peak_count": self._peak.get(zone.id, r.count),
                "duration_s": round(t - began, 1),
                "cluster_size": r.cluster_size,
                "threshold": cfg.min_people,
            },
            boxes=r.people.xyxy.copy(),
        )
