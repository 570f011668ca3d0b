"""A residential compound's site file: its buttons, cameras and zones (configs/sites/*.yaml)."""

from __future__ import annotations

import math
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from shapely import Polygon
from shapely.validation import explain_validity

from detectors.config import CameraDetectorsConfig
from detectors.crowd import CrowdZoneConfig
from detectors.parking import ParkingZoneConfig
from gridwatch.configfile import load_yaml_model
from gridwatch.contracts import Latitude, Longitude, Word


class ConfigModel(BaseModel):
    """Configuration models forbid unknown keys so that a typo fails at load, not in the field."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class HeartbeatConfig(ConfigModel):
    interval_s: float = Field(30.0, gt=0, description="how often the edge reports each device alive")
    offline_after_s: float = Field(
        120.0, gt=0, description="silence after which a device raises a device_offline alert (camera_offline for cameras)"
    )

    @model_validator(mode="after")
    def _offline_after_interval(self) -> "HeartbeatConfig":
        if self.offline_after_s <= self.interval_s:
            raise ValueError("offline_after_s must be longer than interval_s, or every device flaps offline")
        return self


class ButtonConfig(ConfigModel):
    id: str = Field(min_length=1, max_length=128, description="device id, used as the Kafka key")
    name: str = ""
    topic: str = Field(min_length=1, description="MQTT topic the button publishes on")
    payload: Literal["gridwatch", "zigbee2mqtt"] = Field(
        "gridwatch", description="payload format: GridWatch's own, or Zigbee2MQTT's {'action': ...}"
    )
    lat: Latitude
    lon: Longitude
    actions: dict[str, Word] = Field(
        default_factory=lambda: {"single": "alarm_button", "double": "alarm_button", "long": "alarm_button"},
        description="press kind (Zigbee2MQTT 'action') -> alert type",
    )
    ignore_actions: list[str] = Field(
        default_factory=lambda: ["release", "hold_release"],
        description="actions that are neither alarms nor errors (a long press's release)",
    )
    offline_after_s: float | None = Field(
        None,
        gt=0,
        description="silence after which this button is offline; defaults to heartbeat.offline_after_s. "
        "Battery Zigbee buttons report rarely (Zigbee2MQTT waits 25 h, 90000 s, before calling them offline)",
    )


class ZoneConfig(ConfigModel):
    id: str = Field(min_length=1, max_length=64)
    kind: Literal["no_parking", "fire_lane", "square", "gate", "other"]
    polygon: list[tuple[float, float]] = Field(
        min_length=3, description="image coordinates in pixels, [[x, y], ...], at least 3 points"
    )
    lat: Latitude | None = Field(None, description="map position of what the zone looks at")
    lon: Longitude | None = None
    crowd: CrowdZoneConfig | None = Field(
        None, description="crowd-gathering rule for this zone (people count and/or ground clusters); off unless set"
    )
    parking: ParkingZoneConfig | None = Field(
        None,
        description="no-parking rule (dwell limit, time-of-day limits); zones of kind no_parking and fire_lane "
        "are watched with the defaults when this is left out",
    )

    @field_validator("polygon")
    @classmethod
    def _a_proper_polygon(cls, points: list[tuple[float, float]]) -> list[tuple[float, float]]:
        """Finite pixels around an area, its edges not crossing (a zone nothing can be inside, or a
        bow-tie whose inside depends on the point test, is a mistake to name at load)."""
        if not all(math.isfinite(v) for point in points for v in point):
            raise ValueError("every coordinate must be a finite number of pixels")
        if any(v < 0 for point in points for v in point):
            raise ValueError("pixels count from 0 at the picture's top left corner: no coordinate can be negative "
                             "(`gridwatch zones edit` shows them)")
        shape = Polygon(points)
        if shape.convex_hull.area <= 0:
            raise ValueError("the points enclose no area (all on one line, or repeated); draw at least 3 corners "
                             "around the place")
        if not shape.is_valid:
            raise ValueError(f"the polygon's edges cross ({explain_validity(shape)}); list the corners in order "
                             "around the place")
        return points


class CameraHealthConfig(ConfigModel):
    """When a camera that still delivers (or opens) counts as faulty: ``camera_fault`` alerts."""

    frozen_after_s: float = Field(
        60.0, gt=0, description="identical frames for this long raise camera_fault (fault: frozen)"
    )
    frozen_max_diff: float = Field(
        0.5, ge=0, le=255, description="mean grey-level difference (0-255, on a 1/8 thumbnail) under which "
        "a frame counts as identical to the first of the run; sensor noise of a live scene is above 1"
    )
    black_after_s: float = Field(
        60.0, gt=0, description="frames darker than black_max_luma for this long raise camera_fault (fault: black)"
    )
    black_max_luma: float = Field(
        12.0, ge=0, le=255, description="mean luminance (0-255) under which a frame counts as black"
    )
    undecodable_after_s: float = Field(
        60.0, gt=0, description="the source opens but yields no decodable frame for this long: camera_fault "
        "(fault: undecodable)"
    )
    repeat_s: float = Field(
        3600.0, gt=0, le=6 * 3600, description="an ongoing offline or fault episode is repeated (phase update) "
        "this often, so the ingest keeps it one incident (it links a device's alerts up to 6 h apart)"
    )


class CameraConfig(ConfigModel):
    id: str = Field(min_length=1, max_length=128)
    name: str = ""
    source: str = Field(min_length=1, description="rtsp://, http(s):// MJPEG, or a video file path")
    enabled: bool = True
    lat: Latitude
    lon: Longitude
    zones: list[ZoneConfig] = Field(default_factory=list)
    offline_after_s: float | None = Field(
        None, gt=0, description="seconds without a decoded frame before the camera is offline; "
        "defaults to heartbeat.offline_after_s"
    )
    detectors: CameraDetectorsConfig | None = Field(
        None, description="video detectors (models, tracking, motion gating, alert timing); none run unless set"
    )
    health: CameraHealthConfig = Field(
        default_factory=CameraHealthConfig, description="frozen, black and undecodable picture thresholds"
    )
    snapshot_max_bytes: int = Field(
        900_000, ge=20_000, le=1_000_000, description="largest evidence JPEG sent to Kafka (its default message "
        "limit is 1 MB); bigger pictures are re-encoded at lower quality, then smaller"
    )
    timezone: str | None = Field(
        None, description="IANA time zone the zones' time-of-day parking limits are in, e.g. Asia/Shanghai; "
        "the edge machine's own zone when left out (a container's is often UTC)"
    )

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, name: str | None) -> str | None:
        if name is not None:
            try:
                ZoneInfo(name)
            except (ZoneInfoNotFoundError, ValueError):
                raise ValueError(f"unknown time zone {name!r}; use an IANA name such as Asia/Shanghai") from None
        return name

    def local_time(self, at: datetime) -> datetime:
        """``at`` on the clock the zones' time-of-day limits are written in."""
        return at.astimezone(ZoneInfo(self.timezone) if self.timezone else None)

    def has_schedules(self) -> bool:
        return any(z.parking is not None and z.parking.schedule for z in self.zones)

    @model_validator(mode="after")
    def _verify(self) -> "CameraConfig":
        verify_unique_zone_ids(self)
        verify_clusters_have_calibration(self)
        return self


class SpoolConfig(ConfigModel):
    """Bounds of the on-disk store-and-forward spool; the oldest records go first, and are counted."""

    max_records: int = Field(1_000_000, ge=1, description="most records kept while Kafka is unreachable")
    max_bytes: int = Field(512 * 1024 * 1024, ge=1024, description="most payload bytes kept (keys and values)")
    max_age_s: float = Field(7 * 24 * 3600.0, gt=0, description="records older than this are dropped unsent")


class SiteConfig(ConfigModel):
    site_id: str = Field(min_length=1, max_length=128)
    name: str = ""
    lat: Latitude
    lon: Longitude
    heartbeat: HeartbeatConfig = HeartbeatConfig()
    spool: SpoolConfig = SpoolConfig()
    buttons: list[ButtonConfig] = Field(default_factory=list)
    cameras: list[CameraConfig] = Field(default_factory=list)

    @model_validator(mode="after")
    def _verify(self) -> "SiteConfig":
        verify_unique_device_ids(self)
        verify_unique_button_topics(self)
        verify_offline_after_exceeds_interval(self)
        return self

    def button_by_topic(self) -> dict[str, ButtonConfig]:
        return {b.topic: b for b in self.buttons}


def repeated(values: list[str]) -> list[str]:
    """The values that occur more than once, sorted."""
    return sorted({v for v in values if values.count(v) > 1})


def verify_unique_zone_ids(camera: CameraConfig) -> None:
    dupes = repeated([z.id for z in camera.zones])
    if dupes:
        raise ValueError(f"camera {camera.id}: zone ids must be unique; repeated: {', '.join(dupes)}")


def verify_clusters_have_calibration(camera: CameraConfig) -> None:
    wants = [z.id for z in camera.zones if z.crowd and z.crowd.cluster_distance_m is not None]
    if wants and (camera.detectors is None or camera.detectors.calibration is None):
        raise ValueError(
            f"camera {camera.id}: crowd.cluster_distance_m (zones {', '.join(wants)}) needs detectors.calibration"
        )


def verify_unique_device_ids(site: SiteConfig) -> None:
    dupes = repeated([d.id for d in (*site.buttons, *site.cameras)])
    if dupes:
        raise ValueError(f"device ids must be unique across buttons and cameras; repeated: {', '.join(dupes)}")


def verify_unique_button_topics(site: SiteConfig) -> None:
    dupes = repeated([b.topic for b in site.buttons])
    if dupes:
        raise ValueError(f"each button needs its own MQTT topic; shared: {', '.join(dupes)}")


def verify_offline_after_exceeds_interval(site: SiteConfig) -> None:
    interval = site.heartbeat.interval_s
    short = [d.id for d in (*site.buttons, *site.cameras) if d.offline_after_s is not None and d.offline_after_s <= interval]
    if short:
        raise ValueError(
            f"offline_after_s must be longer than heartbeat.interval_s ({interval:g} s), "
            f"or the device flaps offline; too short for: {', '.join(short)}"
        )


def offline_after(site: SiteConfig, device: ButtonConfig | CameraConfig) -> float:
    """The silence after which ``device`` counts as offline: its own setting, else the site's."""
    return device.offline_after_s if device.offline_after_s is not None else site.heartbeat.offline_after_s


def load_site(path: Path) -> SiteConfig:
    """Load and validate a site file; raises ``gridwatch.configfile.ConfigError``."""
    return load_yaml_model(path, SiteConfig)
