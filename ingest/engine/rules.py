"""Per-category rules of the incident engine: how far and how long observations merge, and the
risk colour an incident starts with. Data, not code: loadable from YAML (configs/engine.yaml)."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from gridwatch.configfile import load_yaml_model
from gridwatch.contracts import Risk


class CategoryRule(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    radius_m: float = Field(gt=0, description="observations this close (metres) may be one event")
    window_s: float = Field(gt=0, description="gap after an incident's last observation within which it still merges")
    risk: Risk = Field(description="risk colour of a newly raised incident")


DEFAULT_RULES: dict[str, CategoryRule] = {
    # Fire: several cameras and a patrol see one fire from tens of metres apart; smoke lingers.
    "fire": CategoryRule(radius_m=150, window_s=3600, risk="red"),
    # One-key alarms: repeated presses at one gate are one call for help.
    "alarm": CategoryRule(radius_m=60, window_s=900, risk="orange"),
    "crowd": CategoryRule(radius_m=80, window_s=1800, risk="yellow"),
    # Parking: a car is a point; neighbouring bays are separate cars.
    "parking": CategoryRule(radius_m=15, window_s=3600, risk="blue"),
    "device": CategoryRule(radius_m=5, window_s=6 * 3600, risk="blue"),
    "hazard": CategoryRule(radius_m=50, window_s=4 * 3600, risk="yellow"),
    "dispute": CategoryRule(radius_m=50, window_s=2 * 3600, risk="yellow"),
    "other": CategoryRule(radius_m=30, window_s=3600, risk="green"),
}
FALLBACK_RULE = CategoryRule(radius_m=30, window_s=3600, risk="green")


class EngineConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    rules: dict[str, CategoryRule] = Field(default_factory=lambda: dict(DEFAULT_RULES))
    dedupe_horizon_s: float = Field(
        86400, gt=0, description="how long an observation id is remembered to drop a re-sent copy"
    )

    def rule(self, category: str) -> CategoryRule:
        return self.rules.get(category, FALLBACK_RULE)

    @property
    def max_window_s(self) -> float:
        return max(r.window_s for r in self.rules.values())


def load_engine_config(path: Path | None) -> EngineConfig:
    return EngineConfig() if path is None else load_yaml_model(path, EngineConfig)
