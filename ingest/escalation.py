"""Escalation of unattended incidents up the grid hierarchy: pure rules on a given ``now``.

Each category and risk colour has two limits (``configs/escalation.yaml``):

- *acknowledge*: minutes an incident may stay ``open`` at one level (any dispatcher step out of
  ``open`` acknowledges it);
- *handle*: minutes it may take at one level to reach ``resolved``.

Both clocks start when the incident reaches its current level (raised at grid level, or escalated
to the level) or is reopened. Acknowledging stops the acknowledge clock, not the handle clock.
When the earlier running limit passes, the incident moves one level up (grid → community → street
→ district), its risk rises one colour (never above red, never lowered), and both clocks restart
at the new level. District is the top. Resolved, closed and dismissed incidents never escalate.

The stored risk is therefore always the engine's risk (category and severity) raised one colour
per level above grid: ``risk_at_level``. The ingest's incident upsert applies the same rule when
the engine re-renders an escalated incident, so new evidence never lowers an escalated risk.

This is wall-clock time, not event time: the incident engine (``ingest/engine/``) never
escalates, so ``gridwatch replay`` (no dispatchers, no clock) does not either.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from gridwatch.configfile import load_yaml_model
from gridwatch.contracts import LEVELS, REPORT_CATEGORIES, RISKS, Risk, Word
from ingest.engine.render import raise_risk

ESCALATING_STATUSES = ("open", "assigned", "in_progress")
ACTOR = "system:escalation"


class Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Limit(Frozen):
    """Time allowed at one level before the incident goes one level up."""

    acknowledge_min: float = Field(gt=0, description="minutes it may stay open (unacknowledged) at one level")
    handle_min: float = Field(gt=0, description="minutes it may take at one level to reach resolved")

    @model_validator(mode="after")
    def _handle_after_acknowledge(self) -> "Limit":
        if self.handle_min < self.acknowledge_min:
            raise ValueError(
                f"handle_min ({self.handle_min:g}) is shorter than acknowledge_min ({self.acknowledge_min:g}); "
                "an incident is acknowledged before it is handled: raise handle_min or lower acknowledge_min"
            )
        return self


def _limits(table: dict[str, tuple[float, float]]) -> dict[Risk, Limit]:
    return {risk: Limit(acknowledge_min=ack, handle_min=handle) for risk, (ack, handle) in table.items()}  # type: ignore[misc]


# Minutes (acknowledge, handle) per risk for any category not listed below, and for a listed
# category's risks it does not list. Red follows the fire service's five minutes from call to
# turn-out; each colour down roughly doubles both limits, down to a working day for green.
DEFAULT_BY_RISK = _limits({"red": (5, 30), "orange": (10, 60), "yellow": (15, 120), "blue": (30, 240),
                           "green": (60, 480)})

# The README ("Escalation") gives the reasoning per category; configs/escalation.yaml repeats
# these values and a unit test keeps the two equal.
DEFAULT_BY_CATEGORY: dict[str, dict[Risk, Limit]] = {
    # A fire doubles in minutes: acknowledged within 5, out or handed to the fire brigade within 30.
    "fire": _limits({"red": (5, 30), "orange": (5, 45)}),
    # A one-key alarm is a person asking for help now: someone must answer within 3 minutes.
    "alarm": _limits({"red": (3, 20), "orange": (3, 30), "yellow": (5, 45)}),
    # A gathering grows or disperses within the hour; a large one (red) needs the street's people fast.
    "crowd": _limits({"red": (5, 30), "orange": (5, 45), "yellow": (10, 60)}),
    # A parked car blocks nobody at once (blue: half an hour, a tow within 4 h); one in a fire lane
    # or left for hours (yellow, orange) is a fire-safety problem.
    "parking": _limits({"blue": (30, 240), "yellow": (15, 120), "orange": (10, 60)}),
    # A dead camera or button is a maintenance job: seen within the hour, fixed the next day.
    "device": _limits({"blue": (60, 1440), "green": (120, 2880)}),
    # Hazards (a loose sign, a broken cover) are seen within half an hour, fixed within a day.
    "hazard": _limits({"yellow": (30, 1440), "orange": (15, 240)}),
    # A dispute can turn into a fight: a mediator within 15 minutes, settled within 4 hours.
    "dispute": _limits({"yellow": (15, 240), "orange": (10, 120)}),
    "other": _limits({"green": (120, 2880), "blue": (60, 1440)}),
}


class EscalationConfig(Frozen):
    """Escalation limits per category and risk; ``configs/escalation.yaml`` documents the file."""

    default: dict[Risk, Limit] = Field(default_factory=lambda: dict(DEFAULT_BY_RISK),
                                       description="limits per risk for categories (or risks) not listed")
    categories: dict[Word, dict[Risk, Limit]] = Field(default_factory=lambda: dict(DEFAULT_BY_CATEGORY),
                                                      description="limits per category, then per risk")

    @field_validator("default")
    @classmethod
    def _every_risk_has_a_default(cls, value: dict[Risk, Limit]) -> dict[Risk, Limit]:
        missing = [r for r in RISKS if r not in value]
        if missing:
            raise ValueError(f"no limits for {', '.join(missing)}: the default needs all of {', '.join(RISKS)}")
        return value

    @field_validator("categories")
    @classmethod
    def _known_categories(cls, value: dict[str, dict[Risk, Limit]]) -> dict[str, dict[Risk, Limit]]:
        unknown = [c for c in value if c not in REPORT_CATEGORIES]
        if unknown:
            raise ValueError(f"unknown category {', '.join(map(repr, unknown))}; use one of {', '.join(REPORT_CATEGORIES)}")
        return value

    def limit(self, category: str, risk: str) -> Limit:
        return self.categories.get(category, {}).get(risk) or self.default[risk]  # type: ignore[index]

    def table(self) -> list[tuple[str, str, Limit]]:
        """Every (category, risk, limit) that applies, with category ``""`` for the default rows."""
        rows = [("", risk, limit) for risk, limit in self.default.items()]
        rows += [(category, risk, self.limit(category, risk)) for category in self.categories for risk in RISKS]
        return rows

    @property
    def shortest(self) -> timedelta:
        """No incident escalates sooner than this after its clock started."""
        return timedelta(minutes=min(limit.acknowledge_min for _, _, limit in self.table()))


def load_escalation_config(path: Path | None) -> EscalationConfig:
    """The built-in defaults, or ``path`` validated with errors naming file, line and field."""
    return EscalationConfig() if path is None else load_yaml_model(path, EscalationConfig)


@dataclass(frozen=True)
class IncidentClock:
    """What escalation needs to know of one incident. Times are wall-clock (the database's)."""

    category: str
    status: str
    level: str
    risk: str
    raised_at: datetime
    escalated_at: datetime | None = None
    reopened_at: datetime | None = None
    merged: bool = False

    @property
    def clock_start(self) -> datetime:
        """When the clocks of the current level started: raised, last escalated or last reopened."""
        return max(t for t in (self.raised_at, self.escalated_at, self.reopened_at) if t is not None)


@dataclass(frozen=True)
class Deadline:
    at: datetime
    reason: str


@dataclass(frozen=True)
class Escalation:
    """One step up: the new level and risk, why, and when the next step is due if nothing changes."""

    from_level: str
    to_level: str
    from_risk: str
    to_risk: str
    reason: str
    next_deadline: Deadline | None

    @property
    def history_reason(self) -> str:
        risk = f"risk {self.from_risk} → {self.to_risk}" if self.to_risk != self.from_risk else f"risk stays {self.to_risk}"
        return f"{self.reason}: {self.from_level} → {self.to_level}, {risk}"


def format_minutes(minutes: float) -> str:
    """``5 min``, ``4 h``, ``90 min``: the limit as a dispatcher reads it."""
    if minutes >= 60 and minutes % 60 == 0:
        return f"{minutes / 60:g} h"
    return f"{minutes:g} min"


def risk_at_level(engine_risk: str, level: str) -> str:
    """The engine's risk raised one colour per level above grid, never above red."""
    return raise_risk(engine_risk, LEVELS.index(level))


def next_deadline(incident: IncidentClock, config: EscalationConfig) -> Deadline | None:
    """When ``incident`` escalates if nothing changes, and why; None when it never will."""
    if incident.merged or incident.status not in ESCALATING_STATUSES or incident.level == LEVELS[-1]:
        return None
    limit = config.limit(incident.category, incident.risk)
    start = incident.clock_start
    what = f"({incident.category}, {incident.risk})"
    if incident.status == "open":  # acknowledge_min <= handle_min, so this one comes first
        return Deadline(start + timedelta(minutes=limit.acknowledge_min),
                        f"not acknowledged within {format_minutes(limit.acknowledge_min)} {what}")
    return Deadline(start + timedelta(minutes=limit.handle_min),
                    f"not handled within {format_minutes(limit.handle_min)} {what}")


def escalate(incident: IncidentClock, config: EscalationConfig, now: datetime) -> Escalation | None:
    """One level up if a limit has passed at ``now``, else None. The clocks restart at ``now``
    (not at the deadline), so an ingest that was down does not skip levels on its return."""
    due = next_deadline(incident, config)
    if due is None or now < due.at:
        return None
    to_level = LEVELS[LEVELS.index(incident.level) + 1]
    to_risk = raise_risk(incident.risk)
    after = replace(incident, level=to_level, risk=to_risk, escalated_at=now)
    return Escalation(incident.level, to_level, incident.risk, to_risk, due.reason, next_deadline(after, config))
