"""A residential compound's site file: its buttons, cameras and zones (configs/sites/*.yaml)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from gridwatch.configfile import load_yaml_model
from gridwatch.contracts import Latitude, Longitude, Word


class ConfigModel(BaseModel):
    """Configuration models forbid unknown keys so that a typo fails at load, not in the field."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class HeartbeatConfig(ConfigModel):
    interval_s: float = Field(30.0, gt=0, description="how often the edge reports each device alive")
    offline_after_s: float = Field(
        120.0, gt=0, description="silence after which a device raises a device_offline alert"
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


class ZoneConfig(ConfigModel):
    id: str = Field(min_length=1, max_length=64)
    kind: Literal["no_parking", "fire_lane", "square", "gate", "other"]
    polygon: list[tuple[float, float]] = Field(
        min_length=3, description="image coordinates in pixels, [[x, y], ...], at least 3 points"
    )
    lat: Latitude | None = Field(None, description="map position of what the zone looks at")
    lon: Longitude | None = None


class CameraConfig(ConfigModel):
    id: str = Field(min_length=1, max_length=128)
    name: str = ""
    source: str = Field(min_length=1, description="rtsp://, http(s):// MJPEG, or a video file path")
    enabled: bool = True
    lat: Latitude
    lon: Longitude
    zones: list[ZoneConfig] = Field(default_factory=list)


class SiteConfig(ConfigModel):
    site_id: str = Field(min_length=1, max_length=128)
    name: str = ""
    lat: Latitude
    lon: Longitude
    heartbeat: HeartbeatConfig = HeartbeatConfig()
    buttons: list[ButtonConfig] = Field(default_factory=list)
    cameras: list[CameraConfig] = Field(default_factory=list)

    @model_validator(mode="after")
    def _verify(self) -> "SiteConfig":
        verify_unique_device_ids(self)
        verify_unique_button_topics(self)
        return self

    def button_by_topic(self) -> dict[str, ButtonConfig]:
        return {b.topic: b for b in self.buttons}


def verify_unique_device_ids(site: SiteConfig) -> None:
    ids = [d.id for d in (*site.buttons, *site.cameras)]
    dupes = sorted({i for i in ids if ids.count(i) > 1})
    if dupes:
        raise ValueError(f"device ids must be unique across buttons and cameras; repeated: {', '.join(dupes)}")


def verify_unique_button_topics(site: SiteConfig) -> None:
    topics = [b.topic for b in site.buttons]
    dupes = sorted({t for t in topics if topics.count(t) > 1})
    if dupes:
        raise ValueError(f"each button needs its own MQTT topic; shared: {', '.join(dupes)}")


def load_site(path: Path) -> SiteConfig:
    """Load and validate a site file; raises ``gridwatch.configfile.ConfigError``."""
    return load_yaml_model(path, SiteConfig)
