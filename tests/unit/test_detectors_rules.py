"""Pure detector logic on synthetic Detections: confirmation, cooldown, crowd, parking dwell."""

from __future__ import annotations

from datetime import datetime, timedelta

import numpy as np
import pytest
from pydantic import ValidationError

from detectors.calibration import CalibrationConfig, GroundPlane
from detectors.confirm import ConfirmConfig, Confirmer
from detectors.crowd import CrowdRule, CrowdZoneConfig, largest_cluster
from detectors.labels import COCO80
from detectors.parking import ParkingRule, ParkingZoneConfig, TimeWindowLimit
from detectors.types import Detections
from detectors.zones import Zone

SQUARE = Zone("sq", np.array([[0, 0], [100, 0], [100, 100], [0, 100]], np.float32))
PERSON, CAR = COCO80.index("person"), COCO80.index("car")


def dets_factory(boxes: list[tuple[float, float, float, float]], cls: int = PERSON, conf: float = 0.9,
                 tids: list[int] | None = None) -> Detections:
    return Detections.from_arrays(
        np.array(boxes, np.float32).reshape(-1, 4), [conf] * len(boxes), [cls] * len(boxes), COCO80, tids
    )


def people_in_square(n: int) -> Detections:
    return dets_factory([(10 * i, 10, 10 * i + 8, 50) for i in range(n)])


def run(confirmer: Confirmer, pattern: str, dt: float = 1.0) -> list[tuple[float, str]]:
    out = []
    for i, ch in enumerate(pattern):
        phase = confirmer.step("z", i * dt, ch == "1")
        if phase:
            out.append((i * dt, phase))
    return out


# --- Detections and zones ---------------------------------------------------------------------

def test_detections_select_keeps_columns_aligned() -> None:
    d = Detections.from_arrays([[0, 0, 1, 1], [2, 2, 3, 3]], [0.2, 0.8], [PERSON, CAR], COCO80, [5, 6])
    car = d.of_classes({"car"})
    assert car.names == ["car"] and car.tracker_id.tolist() == [6] and car.xyxy.tolist() == [[2, 2, 3, 3]]
    assert len(d.above(0.5)) == 1 and len(Detections.empty(COCO80)) == 0


@pytest.mark.parametrize(
    ("box", "inside"),
    [((40, 10, 60, 90), True), ((40, 10, 60, 120), False), ((90, 80, 130, 100), False), ((80, 80, 120, 99), True)],
)
def test_zone_tests_the_bottom_centre(box: tuple[float, ...], inside: bool) -> None:
    assert SQUARE.contains(dets_factory([box])).tolist() == [inside]


def test_zone_of_no_detections_is_empty() -> None:
    assert SQUARE.contains(Detections.empty(COCO80)).shape == (0,)


# --- calibration ------------------------------------------------------------------------------

def test_ground_plane_maps_reference_points_to_metres() -> None:
    cal = CalibrationConfig(image_points=[(100, 400), (500, 400), (420, 200), (180, 200)],
                            ground_points_m=[(0, 0), (10, 0), (10, 20), (0, 20)])
    ground = GroundPlane(cal)
    assert np.allclose(ground.to_metres(np.array([[100, 400], [420, 200]])), [[0, 0], [10, 20]], atol=1e-3)
    # The same 80 px are more metres far from the camera than near it.
    near = ground.distance_m(np.array([[260, 400]]), np.array([[340, 400]]))[0]
    far = ground.distance_m(np.array([[260, 200]]), np.array([[340, 200]]))[0]
    assert far > near * 1.4


def test_calibration_points_listed_in_different_orders_are_refused() -> None:
    # Two ground marks swapped: the homography bent the ground (a 20 px step read 0.4 m near and 3.6 m far).
    image = [(0, 400), (600, 400), (500, 100), (100, 100)]
    CalibrationConfig(image_points=image, ground_points_m=[(0, 0), (12, 0), (12, 30), (0, 30)])
    with pytest.raises(ValidationError, match="ground_points_m: the four points, in the order given, do not go around"):
        CalibrationConfig(image_points=image, ground_points_m=[(0, 0), (12, 0), (0, 30), (12, 30)])


def test_an_empty_time_of_day_window_is_refused() -> None:
    with pytest.raises(ValidationError, match="start and end are both 08:00, a window of no time"):
        TimeWindowLimit(start="08:00", end="08:00", limit_s=30)


def test_collinear_calibration_is_refused() -> None:
    with pytest.raises(ValidationError, match="on one line"):
        CalibrationConfig(image_points=[(0, 0), (1, 1), (2, 2), (0, 5)], ground_points_m=[(0, 0), (1, 0), (1, 1), (0, 1)])


# --- confirmation -----------------------------------------------------------------------------

@pytest.mark.parametrize(
    ("pattern", "expected"),
    [
        ("", []),
        ("00000", []),
        ("11000", []),  # 2 of 5 never confirms with k=3
        ("10101", [(4.0, "start")]),  # 3 of the last 5
        ("111", [(2.0, "start")]),
    ],
)
def test_k_of_n_confirmation(pattern: str, expected: list[tuple[float, str]]) -> None:
    c = Confirmer(ConfirmConfig(k=3, n=5, update_interval_s=100, clear_s=3, cooldown_s=0))
    assert run(c, pattern) == expected


def test_updates_at_the_interval_then_end_when_clear() -> None:
    c = Confirmer(ConfirmConfig(k=1, n=1, update_interval_s=2, clear_s=3, cooldown_s=0))
    # No update while the condition is absent, even before it has been absent long enough to end.
    assert run(c, "11111" + "0000000") == [(0, "start"), (2, "update"), (4, "update"), (7, "end")]


def test_a_short_gap_does_not_end_an_alert() -> None:
    c = Confirmer(ConfirmConfig(k=1, n=1, update_interval_s=100, clear_s=3, cooldown_s=0))
    assert run(c, "1100111") == [(0, "start")]


def test_cooldown_stops_a_flickering_condition_from_flooding() -> None:
    c = Confirmer(ConfirmConfig(k=1, n=1, update_interval_s=100, clear_s=1, cooldown_s=10))
    phases = run(c, "10" * 12)  # on/off every second for 24 s
    assert [p for _, p in phases].count("start") == 2  # t=0, then only once the 10 s cooldown has passed
    assert phases[:3] == [(0, "start"), (1, "end"), (12, "start")]


def test_min_duration_delays_the_start() -> None:
    c = Confirmer(ConfirmConfig(k=1, n=1, min_duration_s=3, update_interval_s=100, clear_s=1, cooldown_s=0))
    assert run(c, "11011111") == [(6, "start")]


def test_k_above_n_is_a_config_error() -> None:
    with pytest.raises(ValidationError, match="cannot exceed n"):
        ConfirmConfig(k=4, n=3)


# --- crowd ------------------------------------------------------------------------------------

def crowd_rule(min_people: int | None = 3, **kw: object) -> CrowdRule:
    cfg = CrowdZoneConfig(min_people=min_people, min_duration_s=2, **kw)
    return CrowdRule([(SQUARE, cfg)], ConfirmConfig(k=2, n=3, update_interval_s=5, clear_s=2, cooldown_s=30))


@pytest.mark.parametrize(("people", "alerts"), [(0, 0), (2, 0), (3, 1), (6, 1)])
def test_crowd_threshold(people: int, alerts: int) -> None:
    rule = crowd_rule()
    decisions = [d for t in range(10) for d in rule.update(people_in_square(people), float(t))]
    starts = [d for d in decisions if d.phase == "start"]
    assert len(starts) == alerts
    if starts:
        assert starts[0].attributes["count"] == people and starts[0].attributes["duration_s"] >= 2
        assert starts[0].zone_id == "sq" and starts[0].boxes.shape == (people, 4)


def test_crowd_ends_when_people_leave_and_reports_peak() -> None:
    rule = crowd_rule()
    frames = [people_in_square(5)] * 6 + [people_in_square(0)] * 6
    decisions = [d for t, f in enumerate(frames) for d in rule.update(f, float(t))]
    assert [d.phase for d in decisions] == ["start", "end"]
    assert decisions[-1].attributes["peak_count"] == 5 and decisions[0].episode == decisions[-1].episode


def test_people_outside_the_zone_do_not_count() -> None:
    rule = crowd_rule()
    outside = dets_factory([(200 + 10 * i, 10, 208 + 10 * i, 50) for i in range(10)])
    assert [d for t in range(10) for d in rule.update(outside, float(t))] == []


def test_cluster_needs_calibration() -> None:
    with pytest.raises(ValueError, match="calibration"):
        crowd_rule(min_people=None, cluster_distance_m=1.5)


def test_largest_cluster_links_neighbours_transitively() -> None:
    pts = np.array([[0, 0], [1, 0], [2, 0], [10, 0], [11, 0]], np.float32)
    assert largest_cluster(pts, 1.2).tolist() == [0, 1, 2]
    assert largest_cluster(np.zeros((0, 2)), 1.0).tolist() == []


def test_dense_cluster_on_the_ground_raises_a_crowd_alert() -> None:
    ground = GroundPlane(CalibrationConfig(image_points=[(0, 0), (100, 0), (100, 100), (0, 100)],
                                           ground_points_m=[(0, 0), (10, 0), (10, 10), (0, 10)]))
    cfg = CrowdZoneConfig(min_people=None, cluster_distance_m=1.5, min_cluster_size=4, min_duration_s=0)
    rule = CrowdRule([(SQUARE, cfg)], ConfirmConfig(k=1, n=1), ground)
    spread = dets_factory([(x, 10, x + 4, 50) for x in (5, 30, 55, 80)])  # 2.5 m apart
    tight = dets_factory([(x, 10, x + 4, 50) for x in (40, 50, 60, 70)])  # 1 m apart
    assert rule.update(spread, 0.0) == []
    (d,) = rule.update(tight, 1.0)
    assert d.phase == "start" and d.attributes["cluster_size"] == 4


# --- parking ----------------------------------------------------------------------------------

VAN = (30.0, 20.0, 70.0, 60.0)


def parking_rule(limit_s: float = 10, **kw: object) -> ParkingRule:
    return ParkingRule([(SQUARE, ParkingZoneConfig(limit_s=limit_s, occlusion_s=5, **kw))], update_interval_s=4)


def feed(rule: ParkingRule, frames: list[Detections], dt: float = 1.0) -> list:
    return [d for i, f in enumerate(frames) for d in rule.update(f, i * dt)]


def car(box: tuple[float, ...] = VAN, tid: int | None = 1, conf: float = 0.8) -> Detections:
    return dets_factory([box], cls=CAR, conf=conf, tids=None if tid is None else [tid])


def test_one_alert_per_parked_vehicle_after_its_limit() -> None:
    decisions = feed(parking_rule(), [car()] * 20)
    starts = [d for d in decisions if d.phase == "start"]
    assert len(starts) == 1 and starts[0].t == 10 and starts[0].attributes["dwell_s"] == 10
    assert starts[0].attributes["track_id"] == 1 and starts[0].attributes["zone"] == "sq"
    assert [d.phase for d in decisions] == ["start", "update", "update"]


def test_no_alert_before_the_limit_nor_for_people() -> None:
    assert feed(parking_rule(), [car()] * 9) == []
    assert feed(parking_rule(), [dets_factory([VAN], tids=[1])] * 30) == []
    assert feed(parking_rule(), [Detections.empty(COCO80)] * 30) == []


def test_dwell_survives_occlusion_and_a_new_track_id() -> None:
    frames = [car(tid=1)] * 5 + [Detections.empty(COCO80)] * 3 + [car(tid=7)] * 4
    (d,) = feed(parking_rule(), frames)
    assert d.phase == "start" and d.t == 10 and d.attributes["track_ids"] == [1, 7]


def test_a_long_absence_ends_the_alert_and_restarts_the_clock() -> None:
    frames = [car()] * 12 + [Detections.empty(COCO80)] * 8 + [car(tid=2)] * 5
    decisions = feed(parking_rule(), frames)
    # The clock runs on while the vehicle is unseen (it may be hidden), so an update still goes out at 14.
    assert [(d.phase, d.t) for d in decisions] == [("start", 10), ("update", 14), ("end", 17)]


def test_moving_vehicle_is_not_parked() -> None:
    frames = [car(box=(5 + 4 * i, 20, 45 + 4 * i, 60)) for i in range(14)]  # drives 4 px per second
    assert feed(parking_rule(max_move_px=10), frames) == []


def test_leaving_the_zone_ends_the_alert_once_it_has_been_gone_for_leave_s() -> None:
    frames = [car()] * 11 + [car(box=(130, 20, 170, 60))] * 5
    assert [(d.phase, d.t) for d in feed(parking_rule(leave_s=3), frames)] == [("start", 10), ("end", 14)]


@pytest.mark.parametrize("jump", [(30, 20, 70, 101), (80, 20, 120, 60)])  # across the zone's edge; 50 px away
def test_one_jumpy_box_neither_ends_the_alert_nor_restarts_the_clock(jump: tuple[float, ...]) -> None:
    for at in (5, 12):  # before the limit, and with the alert on
        frames = [car()] * at + [car(box=jump)] + [car()] * (20 - at)
        decisions = feed(parking_rule(leave_s=3, max_move_px=30), frames)
        assert [(d.phase, d.t, d.episode) for d in decisions] == [
            ("start", 10, "illegal_parking/sq/1"), ("update", 14, "illegal_parking/sq/1"),
            ("update", 18, "illegal_parking/sq/1")], at


def test_a_vehicle_driving_past_in_front_does_not_take_the_parked_ones_place() -> None:
    # The van (track 7) drives by on the road in front of the parked car (track 1), its wheels outside
    # the zone, and hides the car for three frames; its box overlaps the car's, but it was tracked
    # before and does not stand where the car stands. (It once took the car's place: the alert ended.)
    frames = []
    for i in range(20):
        boxes, tids = [], []
        if 8 <= i <= 16:
            x = -30 + 15 * (i - 8)
            boxes.append((x, 15, x + 50, 110))
            tids.append(7)
        if not 10 <= i <= 12:
            boxes.append(VAN)
            tids.append(1)
        frames.append(dets_factory(boxes, cls=CAR, conf=0.8, tids=tids) if boxes else Detections.empty(COCO80))
    decisions = feed(parking_rule(max_move_px=40), frames)
    assert [(d.phase, d.t, d.attributes["track_ids"]) for d in decisions] == [
        ("start", 10, [1]), ("update", 14, [1]), ("update", 18, [1])]
    assert all(tuple(d.boxes[0]) == VAN for d in decisions)


def test_time_of_day_limit() -> None:
    night = TimeWindowLimit(start="22:00", end="06:00", limit_s=3)
    rule = parking_rule(limit_s=100, schedule=[night])
    at = lambda h: datetime(2026, 1, 1, h, 0)  # noqa: E731
    assert night.covers(at(23).time()) and night.covers(at(2).time()) and not night.covers(at(12).time())
    day = [d for i in range(6) for d in rule.update(car(), float(i), at(12))]
    assert day == []
    rule = parking_rule(limit_s=100, schedule=[night])
    (d,) = [d for i in range(6) for d in rule.update(car(), float(i), at(23))]
    assert d.t == 3 and d.attributes["limit_s"] == 3


def test_an_alert_outlives_the_time_of_day_window_that_started_it() -> None:
    # Over the night limit at 05:59:53; at 06:00 the day limit (100 s) applies, but the car is still there.
    night = TimeWindowLimit(start="22:00", end="06:00", limit_s=3)
    rule = parking_rule(limit_s=100, schedule=[night])
    dawn = datetime(2026, 1, 1, 5, 59, 50)
    decisions = [d for i in range(20) for d in rule.update(car(), float(i), dawn + timedelta(seconds=i))]
    assert [(d.phase, d.t) for d in decisions] == [("start", 3), ("update", 7), ("update", 11), ("update", 15),
                                                   ("update", 19)]


def test_car_and_truck_boxes_on_one_vehicle_give_one_alert() -> None:
    both = Detections.merge([car(tid=1), dets_factory([VAN], cls=COCO80.index("truck"), conf=0.5, tids=[2])])
    starts = [d for d in feed(parking_rule(), [both] * 12) if d.phase == "start"]
    assert len(starts) == 1


# --- backends: tiling and config union ----------------------------------------------------------

def test_tiles_map_boxes_back_to_frame_pixels_and_merge_duplicates() -> None:
    from detectors.backends.base import Backend, BackendConfigBase

    class Fake(Backend):
        """Stands in for a model: one 'person' box around the white pixels of whatever it is shown."""

        type_key = "fake"
        labels = COCO80

        def _infer(self, frame_bgr: np.ndarray) -> Detections:
            ys, xs = np.nonzero(frame_bgr[..., 0] > 200)
            if len(xs) == 0:
                return Detections.empty(COCO80)
            return dets_factory([(xs.min(), ys.min(), xs.max() + 1, ys.max() + 1)])

    frame = np.zeros((400, 600, 3), np.uint8)
    frame[300:340, 420:460] = 255
    whole = Fake(BackendConfigBase(model="x")).detect(frame)
    tiled = Fake(BackendConfigBase(model="x", tiles=2)).detect(frame)
    assert whole.xyxy.tolist() == [[420, 300, 460, 340]]
    assert tiled.xyxy.tolist() == [[420, 300, 460, 340]]  # the same box from 2 tiles and the frame, merged


def test_unknown_backend_type_fails_at_config_load() -> None:
    from detectors.config import CameraDetectorsConfig

    with pytest.raises(ValidationError, match="onnx_centernet"):
        CameraDetectorsConfig.model_validate({"backend": {"type": "tensorrt", "model": "x"}})
    assert CameraDetectorsConfig.model_validate({"backend": {"type": "onnx_nanodet"}}).backend.model == "nanodet-coco"


def test_missing_ultralytics_says_which_extra_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    from detectors.backends.ultralytics_yolo import load_yolo

    monkeypatch.setitem(sys.modules, "ultralytics", None)  # import ultralytics now raises ImportError
    with pytest.raises(ImportError, match=r"install the yolo extra: pip install -e '\.\[yolo\]'"):
        load_yolo("any.pt")
