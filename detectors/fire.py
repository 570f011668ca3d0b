"""Fire and smoke: model boxes, kept only if they look and behave like fire over time.

A YOLO fire/smoke model alone fires on night lamps, sunsets and tail lights (seen on this
project's hard negatives). So each box is verified cheaply before it counts:
- size and colour: a box must cover enough of the frame; a fire box must hold enough
  flame-coloured pixels (red >= green > blue, bright, saturated, or an overexposed warm core), a
  smoke box must be grey on average (low mean saturation); the model mixes the two classes up on
  CCTV, so a box that fails its own class's colour check may pass the other's, at the stricter score;
- flicker: between two evaluations, flame pixels inside the box change (flames move; a lamp or a
  sunset does not), or the fire's area changes;
- persistence: k of the last n evaluations (``ConfirmConfig``) and ``min_duration_s``.
Growth (area now / area at confirmation) is reported as an attribute. Pure: boxes and frame in.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from detectors.confirm import ConfirmConfig, Confirmer
from detectors.types import AlertDecision, Detections, Phase, TimedFrame

CATEGORY, TYPE = "fire", "fire_smoke"
FRAME_KEY = "frame"


class FireVerifyConfig(BaseModel):
    """Per-box checks on one image. Defaults chosen on the tune half of ../shared/media (fire/,
    nonfire/; bench/tune_detectors.py) for yolov8s-fire-smoke at imgsz 640: see its model card."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    min_confidence: float = Field(0.25, ge=0, le=1, description="model score a fire box needs")
    min_smoke_confidence: float = Field(
        0.45, ge=0, le=1, description="model score a smoke box needs (grey haze fools the model more often)"
    )
    min_fire_pixels: float = Field(0.02, ge=0, le=1, description="share of flame-coloured pixels a fire box needs")
    min_smoke_pixels: float = Field(
        0.0, ge=0, le=1, description="share of grey low-saturation pixels a smoke box needs (off: the mean "
        "saturation test below separated smoke from grey scenes better on the tune half)"
    )
    max_smoke_saturation: float = Field(
        0.2, ge=0, le=1, description="mean HSV saturation (0-1) a smoke box may have: smoke is grey, the "
        "walls, floors and skies the model also boxes as smoke are often tinted"
    )
    min_box_area: float = Field(
        0.02, ge=0, le=1, description="share of the frame a fire or smoke box must cover (12 of the 61 hard "
        "negative photos, lamps and lights, fail on this alone); lower it for wide views where a fire starts small"
    )
    min_cross_fire_pixels: float = Field(
        0.3, ge=0, le=1.01, description="a smoke box at least this flame-coloured counts as fire, and a "
        "fire box that passes the smoke checks counts as smoke, both from the stricter of the two scores "
        "(min_confidence, min_smoke_confidence): on CCTV the model boxes a red-orange blaze as smoke and an overexposed "
        "white flash as fire; 1.01 turns the cross-class checks off"
    )
    min_flicker: float = Field(0.04, ge=0, le=1, description="share of flame pixels that must change between evaluations")
    min_area_change: float = Field(0.15, ge=0, description="relative change of fire area that also counts as alive")


def flame_mask(crop_bgr: np.ndarray) -> np.ndarray:
    """Flame-coloured pixels: red-dominant, bright, warm (after Chen et al. 2004's RGB rule), and
    the white-yellow cores that CCTV cameras overexpose (R >= G >= B, all bright, still warm)."""
    b, g, r = (crop_bgr[..., i].astype(np.int16) for i in range(3))
    hsv = cv2.cvtColor(crop_bgr, cv2.COLOR_BGR2HSV)
    s, v = hsv[..., 1].astype(np.int16), hsv[..., 2].astype(np.int16)
    warm = (r > 150) & (r >= g) & (g > b) & (v > 150) & (s > 60) & (r - b > 70)
    core = (r > 220) & (g > 200) & (r >= g) & (g >= b) & (r - b > 15)
    return warm | core


def smoke_mask(crop_bgr: np.ndarray) -> np.ndarray:
    """Smoke-coloured pixels: grey to white-grey, low saturation, neither black nor blown out."""
    hsv = cv2.cvtColor(crop_bgr, cv2.COLOR_BGR2HSV)
    s, v = hsv[..., 1], hsv[..., 2]
    return (s < 50) & (v > 70) & (v < 235)


def _crop(image: np.ndarray, box: np.ndarray) -> np.ndarray:
    h, w = image.shape[:2]
    x1, y1, x2, y2 = np.clip(np.round(box).astype(int), 0, [w, h, w, h])
    return image[y1:y2, x1:x2]


def looks_like(image: np.ndarray, box: np.ndarray, label: str, score: float, cfg: FireVerifyConfig) -> str | None:
    """What one box passes as: "fire", "smoke" or None. It must be big enough, then pass its own
    class's score and colour check, else the other class's (see ``min_cross_fire_pixels``)."""
    crop = _crop(image, box)
    if label not in ("fire", "smoke") or crop.size == 0:
        return None
    if crop.shape[0] * crop.shape[1] < cfg.min_box_area * image.shape[0] * image.shape[1]:
        return None
    # The model's other class takes the stricter of the two scores; 1.01 turns it off.
    cross = max(cfg.min_confidence, cfg.min_smoke_confidence) if cfg.min_cross_fire_pixels <= 1 else None
    if label == "fire":
        if score >= cfg.min_confidence and flame_share(crop) >= cfg.min_fire_pixels:
            return "fire"
        if cross is not None and score >= cross and grey(crop, cfg):
            return "smoke"
    else:
        if score >= cfg.min_smoke_confidence and grey(crop, cfg):
            return "smoke"
        if cross is not None and score >= cross and flame_share(crop) >= cfg.min_cross_fire_pixels:
            return "fire"
    return None


def flame_share(crop_bgr: np.ndarray) -> float:
    """The fire colour measure: the share of flame-coloured pixels."""
    return float(flame_mask(crop_bgr).mean())


def grey(crop_bgr: np.ndarray, cfg: FireVerifyConfig) -> bool:
    """The smoke colour check: grey on average (low mean saturation) and enough grey pixels."""
    saturation = float(cv2.cvtColor(crop_bgr, cv2.COLOR_BGR2HSV)[..., 1].mean()) / 255
    return saturation <= cfg.max_smoke_saturation and float(smoke_mask(crop_bgr).mean()) >= cfg.min_smoke_pixels


def flicker(prev: np.ndarray, cur: np.ndarray, box: np.ndarray, delta: int = 20) -> float:
    """Share of flame pixels in ``box`` (all pixels if it holds few) whose brightness changed by
    more than ``delta`` grey levels between two frames: flames and drifting smoke do, a lamp, a
    sunset or a parked tail light do not, and sensor noise (a few levels) does not count."""
    a, b = _crop(prev, box), _crop(cur, box)
    if a.size == 0 or a.shape != b.shape:
        return 0.0
    changed = cv2.absdiff(cv2.cvtColor(a, cv2.COLOR_BGR2GRAY), cv2.cvtColor(b, cv2.COLOR_BGR2GRAY)) > delta
    union = flame_mask(a) | flame_mask(b)
    if union.sum() >= 20:
        return float(changed[union].mean())
    return float(changed.mean())


def verify_image(image: np.ndarray, detections: Detections, cfg: FireVerifyConfig) -> Detections:
    """Boxes that pass score, size and colour checks on one image (no time: used for stills too),
    each named for the check it passed (a smoke box that passed as fire is returned as fire)."""
    dets = detections.above(min(cfg.min_confidence, cfg.min_smoke_confidence))
    passed = [looks_like(image, box, name, float(c), cfg) for box, name, c in zip(dets.xyxy, dets.names, dets.confidence)]
    names = list(dets.class_names)
    ids = [names.index(p) if p in names else c for p, c in zip(passed, dets.class_id) if p is not None]
    kept = dets[np.array([p is not None for p in passed], dtype=bool)]
    return Detections.from_arrays(kept.xyxy, kept.confidence, np.asarray(ids, np.int32), kept.class_names, kept.tracker_id)


def area_ratio(detections: Detections, shape: tuple[int, ...]) -> float:
    """Share of the frame covered by the boxes' union (a rasterised union, boxes overlap)."""
    h, w = shape[:2]
    if len(detections) == 0:
        return 0.0
    mask = np.zeros((h // 4 + 1, w // 4 + 1), np.uint8)
    for x1, y1, x2, y2 in (detections.xyxy / 4).astype(int):
        mask[max(y1, 0) : y2 + 1, max(x1, 0) : x2 + 1] = 1
    return float(mask.mean())


@dataclass
class FireRule:
    verify: FireVerifyConfig = field(default_factory=FireVerifyConfig)
    confirm: ConfirmConfig = field(
        default_factory=lambda: ConfirmConfig(k=3, n=5, min_duration_s=2.0, clear_s=10.0, cooldown_s=120.0)
    )
    _confirmer: Confirmer = field(init=False)
    _prev: np.ndarray | None = None
    _prev_area: float | None = None
    _start_area: float | None = None

    def __post_init__(self) -> None:
        self._confirmer = Confirmer(self.confirm)

    def alive(self, boxes: Detections, frame: TimedFrame, area: float) -> Detections:
        """Boxes whose flames flicker, or all of them if the fire's area changed."""
        if self._prev is None or self._prev.shape != frame.image.shape or len(boxes) == 0:
            return boxes  # first look: flicker is judged from the next evaluation on
        if self._prev_area and abs(area - self._prev_area) / self._prev_area >= self.verify.min_area_change:
            return boxes
        keep = [flicker(self._prev, frame.image, b) >= self.verify.min_flicker for b in boxes.xyxy]
        return boxes[np.asarray(keep, dtype=bool)]

    def update(self, detections: Detections, frame: TimedFrame) -> list[AlertDecision]:
        """Feed one evaluation of the fire model (its boxes on ``frame``)."""
        coloured = verify_image(frame.image, detections, self.verify)
        area = area_ratio(coloured, frame.image.shape)
        verified = self.alive(coloured, frame, area)
        self._prev, self._prev_area = frame.image, area
        phase = self._confirmer.step(FRAME_KEY, frame.t, len(verified) > 0)
        if phase == "start":
            self._start_area = max(area, 1e-6)
        if not phase:
            return []
        decision = self._decision(phase, verified, area, frame.t)
        if phase == "end":
            self._start_area = None
        return [decision]

    def _decision(self, phase: Phase, boxes: Detections, area: float, t: float) -> AlertDecision:
        names = boxes.names
        return AlertDecision(
            phase=phase,
            category=CATEGORY,
            type=TYPE,
            zone_id=None,
            episode=f"{TYPE}/{FRAME_KEY}/{self._confirmer.episode(FRAME_KEY)}",
            t=t,
            confidence=round(float(boxes.confidence.max()) if len(boxes) else 0.0, 3),
            attributes={
                "area_ratio": round(area, 4),
                "growth": round(area / self._start_area, 2) if self._start_area else 1.0,
                "fire_boxes": names.count("fire"),
                "smoke_boxes": names.count("smoke"),
            },
            boxes=boxes.xyxy.copy(),
        )
