"""What the funnel report holds: per scenario, how far teachers got and how fast."""

from __future__ import annotations

from dataclasses import dataclass, field

from services.analytics.period import Period

UNKNOWN_SCENARIO = "unknown"


@dataclass
class StepStats:
    step: str
    reached: int = 0
    conversion: float = 0.0  # reached / started, percent
    median_seconds: float | None = None
    handoffs: int = 0
    refusals: int = 0


@dataclass
class ScenarioFunnel:
    scenario: str
    started: int = 0
    completed: int = 0
    conversion: float = 0.0  # completed / started, percent
    steps: list[StepStats] = field(default_factory=list)
    handoffs: int = 0
    ratings: int = 0
    average_rating: float | None = None


@dataclass
class FunnelReport:
    period: Period
    scenarios: list[ScenarioFunnel]
    ratings: int = 0
    average_rating: float | None = None
    handoffs: int = 0


def percent(part: int, whole: int) -> float:
    """`part` of `whole` in percent, one decimal; 0 of nothing is 0."""
    return round(100.0 * part / whole, 1) if whole else 0.0
