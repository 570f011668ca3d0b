"""The incident engine's rules, per category: how far and how long observations are one event,
when a cluster of machine alerts is confirmed, and the risk colour it starts with.

Data, not code: the defaults below can be overridden from YAML (``--engine-config``); the README
explains the reasoning behind each default.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from gridwatch.configfile import load_yaml_model
from gridwatch.contracts import Risk


class Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Confirmation(Frozen):
    """When a cluster of machine alerts becomes an incident. Any one condition suffices; each only
    ever turns true as members join, so the outcome does not depend on arrival order."""

    immediate_confidence: float = Field(1.01, description="a single alert at or above this confidence confirms")
    min_alerts: int = Field(3, ge=1, description="this many alerts ...")
    min_duration_s: float = Field(60.0, ge=0, description="... spanning at least this long, confirm")
    min_devices: int = Field(2, ge=1, description="this many independent devices confirm ...")
    device_confidence: float = Field(0.0, description="... counting only alerts at or above this confidence")
    by_report: bool = Field(True, description="a patrol report in the cluster confirms")


class CategoryRule(Frozen):
    radius_m: float = Field(gt=0, description="observations this close (plus their position uncertainty) may be one event")
    window_s: float = Field(gt=0, description="largest gap between two observations of one event")
    risk: Risk = Field(description="risk colour before severity attributes raise it")
    confirm: Confirmation = Confirmation()
    track_separation_m: float = Field(
        0.0, ge=0, description="two tracks of one camera further apart than this are different objects (0: ignore tracks)"
    )
    camera_sigma_m: float | None = Field(
        None, ge=0, description="position error of this category's camera alerts, when they state none"
    )


IMMEDIATE = Confirmation(immediate_confidence=0.0)

DEFAULT_RULES: dict[str, CategoryRule] = {
    # Several cameras and a patrol see one fire from tens of metres apart (each alert placed within
    # ~10 m, a patrol's fix within ~15 m), and smoke lingers; a fire is raised at once unless the
    # detector itself is unsure, and then by three alerts or two cameras: two weak hits are not a fire.
    "fire": CategoryRule(radius_m=60, window_s=1800, risk="red", camera_sigma_m=10,
                         confirm=Confirmation(immediate_confidence=0.6, min_alerts=3, min_duration_s=0,
                                              device_confidence=0.5)),
    # A one-key alarm is a person asking for help: raised at once; repeated presses are one call.
    "alarm": CategoryRule(radius_m=60, window_s=900, risk="orange", confirm=IMMEDIATE),
    "crowd": CategoryRule(radius_m=60, window_s=900, risk="yellow",
                          confirm=Confirmation(immediate_confidence=0.95, min_alerts=3, min_duration_s=120)),
    # A car is a point a calibrated camera places within a metre or so; neighbouring bays are
    # different cars, which one camera tells apart by their tracks.
    "parking": CategoryRule(radius_m=6, window_s=2400, risk="blue", track_separation_m=1.0, camera_sigma_m=1.0,
                            confirm=Confirmation(immediate_confidence=0.95, min_alerts=2, min_duration_s=240)),
    "device": CategoryRule(radius_m=5, window_s=6 * 3600, risk="blue", confirm=IMMEDIATE),
    # Two patrol fixes of one hazard (~15 m each) are within 30 m + 15 m + 15 m of each other 98 % of
    # the time; a wider radius merges neighbouring hazards more often than it saves a duplicate.
    # A patrol passes again within an hour or two; a longer window (it was 3 h) took distinct hazards
    # reported hours apart in one street for one hazard reported again.
    "hazard": CategoryRule(radius_m=30, window_s=2 * 3600, risk="yellow", confirm=IMMEDIATE),
    "dispute": CategoryRule(radius_m=30, window_s=2 * 3600, risk="yellow", confirm=IMMEDIATE),
    "other": CategoryRule(radius_m=30, window_s=3600, risk="green", confirm=IMMEDIATE),
}
FALLBACK_RULE = CategoryRule(radius_m=30, window_s=3600, risk="green", confirm=IMMEDIATE)


class Uncertainty(Frozen):
    """Position error (metres, one sigma) when an observation does not state its own ``accuracy_m``."""

    camera_m: float = 5.0
    button_m: float = 3.0
    report_m: float = 15.0
    max_m: float = Field(50.0, description="no stated accuracy widens a match by more than this")
    stated_grid_sigmas: float = Field(
        3.0, ge=0, description="a patrol report's stated grid wins when the position is within this many sigmas of it"
    )
    outlier_sigmas: float = Field(
        3.0, gt=0, description="a member this many of its sigmas from an incident's position is a stray that does not place it"
    )


class EngineConfig(Frozen):
    rules: dict[str, CategoryRule] = Field(default_factory=lambda: dict(DEFAULT_RULES))
    uncertainty: Uncertainty = Uncertainty()
    lateness_s: float = Field(
        7200, ge=0, description="how late an observation may arrive and still be merged exactly as if on time"
    )
    dedupe_horizon_s: float = Field(86400, gt=0, description="how long an id is remembered to drop a re-sent copy")
    corroborating: tuple[str, ...] = Field(
        ("alarm",), description="categories that join a nearby incident of another category instead of opening one"
    )
    corroboration_radius_m: float = Field(
        40.0, gt=0,
        description="a corroborating observation joins another category's incident only this close (plus position errors)",
    )
    corroborated: tuple[str, ...] = Field(
        ("fire", "crowd", "hazard", "dispute"),
        description="categories a corroborating one may join (nobody presses an alarm for a parked car)",
    )

    def rule(self, category: str) -> CategoryRule:
        return self.rules.get(category, FALLBACK_RULE)

    @property
    def max_window_s(self) -> float:
        return max(r.window_s for r in self.rules.values())


def load_engine_config(path: Path | None) -> EngineConfig:
    return EngineConfig() if path is None else load_yaml_model(path, EngineConfig)
