"""Choose fire verification parameters on the *tune* half of ../shared/media (crowd counting:
bench/tune_crowd.py).

    .venv/bin/python bench/tune_detectors.py [--fire-imgsz 640] [--fire-tiles 2] [--second-look 1280] [--fire-mirror]
        [--fire-model PATH]

Runs the models (or reads their cached outputs, shared with bench/eval_detectors.py), then searches
a small grid on the tune half only and prints the best settings with their tune figures; the test
half is for bench/eval_detectors.py. Selection rule, fixed before looking at the test half: the
highest per-image recall with precision >= 0.90, ties to the higher precision.
"""

from __future__ import annotations

import argparse
import itertools
import sys
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.eval_detectors import FIRE_RAW_CONFIDENCE, Detector, weights_prefix  # noqa: E402
from bench.media import Item, items, select  # noqa: E402
from detectors.backends import UltralyticsConfig  # noqa: E402
from detectors.config import FireDetectorConfig  # noqa: E402
from detectors.fire import FireVerifyConfig, _crop, flame_mask, smoke_mask  # noqa: E402

FIRE_GRID = {
    "min_confidence": [0.25, 0.3, 0.35, 0.4, 0.45, 0.5, 0.55, 0.6],
    "min_smoke_confidence": [0.3, 0.35, 0.4, 0.45, 0.5, 0.6, 0.7, 1.01],
    "min_fire_pixels": [0.0, 0.02, 0.05, 0.1],
    "min_smoke_pixels": [0.0, 0.35],
    "max_smoke_saturation": [0.2, 1.0],
    "min_box_area": [0.0, 0.005, 0.01, 0.02],
    "min_cross_fire_pixels": [0.2, 0.3, 0.4, 1.01],
}
# The second look's grid: the first view's other settings stay; more pixels mostly find thin smoke.
SECOND_LOOK_GRID = {
    **{k: v[:1] for k, v in FIRE_GRID.items()},
    "min_confidence": [0.25, 0.35, 0.45, 0.55, 0.65, 0.75, 0.85, 1.01],
    "min_smoke_confidence": [0.45, 0.55, 0.65, 0.75, 0.85, 1.01],
    "max_smoke_saturation": [0.2, 0.15, 0.1],
    "min_box_area": [0.02, 0.05],
    "min_fire_pixels": [0.02],
    "min_cross_fire_pixels": [1.01],
}


@dataclass(frozen=True)
class BoxFeatures:
    """What FireVerifyConfig's checks look at, per box (columns of ``values``)."""

    is_fire: np.ndarray  # bool (N,)
    values: np.ndarray  # (N, 5): score, flame share, grey share, mean saturation 0-1, area share


def box_features(image: np.ndarray, dets) -> BoxFeatures:  # noqa: ANN001 - Detections
    rows = []
    h, w = image.shape[:2]
    for box, conf in zip(dets.xyxy, dets.confidence):
        crop = _crop(image, box)
        if crop.size == 0:
            rows.append([conf, 0, 0, 1, 0])
            continue
        sat = float(cv2.cvtColor(crop, cv2.COLOR_BGR2HSV)[..., 1].mean()) / 255
        rows.append([conf, flame_mask(crop).mean(), smoke_mask(crop).mean(), sat, crop.shape[0] * crop.shape[1] / (w * h)])
    return BoxFeatures(np.array([n == "fire" for n in dets.names], bool), np.array(rows, np.float64).reshape(-1, 5))


def fire_hit(f: BoxFeatures, p: dict[str, float]) -> bool:
    """``detectors.fire.looks_like`` on precomputed features: own class first, then the other one."""
    s, flame, grey_share, sat, area = f.values.T
    big = area >= p["min_box_area"]
    grey = (grey_share >= p["min_smoke_pixels"]) & (sat <= p["max_smoke_saturation"])
    cross = p["min_cross_fire_pixels"] <= 1
    strict = s >= max(p["min_confidence"], p["min_smoke_confidence"])
    fire = f.is_fire & (s >= p["min_confidence"]) & (flame >= p["min_fire_pixels"])
    smoke = ~f.is_fire & (s >= p["min_smoke_confidence"]) & grey
    crossed = cross & strict & ((~f.is_fire & (flame >= p["min_cross_fire_pixels"])) | (f.is_fire & grey))
    return bool((big & (fire | smoke | crossed)).any())


def precision_recall(
    feats: list[tuple[Item, BoxFeatures]], p: dict[str, float], already: list[bool] | None = None
) -> tuple[float, float]:
    """Per image; ``already``: images some other view already called fire (the union of views)."""
    hits = [(i.folder == "fire", fire_hit(f, p) or bool(already and already[k])) for k, (i, f) in enumerate(feats)]
    tp = sum(pos and h for pos, h in hits)
    fp = sum(h and not pos for pos, h in hits)
    return tp / max(tp + fp, 1), tp / max(sum(pos for pos, _ in hits), 1)


def tune_features(
    imgsz: int, fresh: bool, tiles: int = 1, mirror: bool = False, model: str = "yolov8s-fire-smoke"
) -> list[tuple[Item, BoxFeatures]]:
    config = UltralyticsConfig(model=model, confidence=FIRE_RAW_CONFIDENCE, imgsz=imgsz, tiles=tiles, mirror=mirror)
    det = Detector(weights_prefix("fire", model), config, fresh)
    feats = []
    for item in select(items("fire") + items("nonfire"), "tune"):
        image = cv2.imread(str(item.path))
        feats.append((item, box_features(image, det.detect(item, lambda image=image: image))))
    return feats


def best(feats: list[tuple[Item, BoxFeatures]], grid: dict[str, list[float]], already: list[bool] | None = None) -> None:
    ranked = []
    for values in itertools.product(*grid.values()):
        p = dict(zip(grid, values))
        prec, rec = precision_recall(feats, p, already)
        ranked.append(((prec >= 0.90, rec, prec), p))
    ranked.sort(key=lambda r: r[0], reverse=True)
    for (_, rec, prec), p in ranked[:5]:
        print(f"  tune P {prec:.3f} R {rec:.3f}  {p}")


def tune_fire(imgsz: int, fresh: bool, tiles: int = 1, mirror: bool = False, model: str = "yolov8s-fire-smoke") -> None:
    feats = tune_features(imgsz, fresh, tiles, mirror, model)
    view = f"{model} @{imgsz}" + (f", whole frame + {tiles}x{tiles} tiles" if tiles > 1 else "") + (", mirrored" if mirror else "")
    print(f"fire {view}: {len(feats)} tune images; best by recall with precision >= 0.90 (tune half only)")
    best(feats, FIRE_GRID)


def tune_second_look(imgsz: int, fresh: bool) -> None:
    """A second, larger view's own thresholds, on top of the camera's view with FireVerifyConfig()'s
    defaults: an image is fire when either view's boxes pass (the union)."""
    first = tune_features(FireDetectorConfig().backend.imgsz, fresh)
    already = [fire_hit(f, FireVerifyConfig().model_dump()) for _, f in first]
    prec, rec = precision_recall(first, FireVerifyConfig().model_dump())
    print(f"fire: second look @{imgsz} on top of @{FireDetectorConfig().backend.imgsz} with FireVerifyConfig() "
          f"(tune P {prec:.3f} R {rec:.3f} alone); best by recall with precision >= 0.90 (tune half only)")
    best(tune_features(imgsz, fresh), SECOND_LOOK_GRID, already)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--fire-imgsz", type=int, nargs="*", default=[640])
    ap.add_argument("--fire-tiles", type=int, nargs="*", default=[], help="fire: search the whole frame + n x n tiles @640")
    ap.add_argument("--second-look", type=int, nargs="*", default=[], help="fire: also search a larger view's thresholds")
    ap.add_argument("--fire-mirror", action="store_true", help="fire: search the mirrored frame @--fire-imgsz")
    ap.add_argument("--fire-model", default="yolov8s-fire-smoke",
                    help="fire weights for --fire-imgsz: a manifest name or a path (bench/train_fire.py's)")
    ap.add_argument("--fresh", action="store_true", help="re-run the models instead of using .cache/eval_detectors")
    args = ap.parse_args()
    for imgsz in args.fire_imgsz:
        tune_fire(imgsz, args.fresh, mirror=args.fire_mirror, model=args.fire_model)
    for tiles in args.fire_tiles:
        tune_fire(640, args.fresh, tiles)
    for imgsz in args.second_look:
        tune_second_look(imgsz, args.fresh)


if __name__ == "__main__":
    main()
