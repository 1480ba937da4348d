"""The linking funnel from `analytics_events`: per scenario, how far teachers get, and how fast.

Definitions (one period [since, until)):
- a teacher belongs to the scenario of her last event in the period that names one
  (`"unknown"` when none does: she never got past the branch question);
- *started*: teachers with a `started` event in the period — the cohort the funnel follows;
- *reached a step*: teachers of the cohort with a `step` event for it; *completed*: with `linked`;
- *median time* on a step: from entering it to entering the next step (or being linked), over
  every visit of the cohort that moved on;
- *handoffs*, *refusals* and *ratings* count every such event of the period, by scenario and step.
"""

from __future__ import annotations

import csv
import io
import itertools
import statistics
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Protocol
from zoneinfo import ZoneInfo

UNKNOWN_SCENARIO = "unknown"
_KIND_STARTED, _KIND_STEP, _KIND_LINKED = "started", "step", "linked"
_KIND_HANDOFF, _KIND_REFUSAL, _KIND_RATING = "handoff", "refusal", "rating"


class Event(Protocol):
    at: datetime
    user_id: int
    kind: str
    scenario: str | None
    step: str | None
    value: int | None


@dataclass(frozen=True)
class Period:
    since: datetime  # aware, inclusive
    until: datetime  # aware, exclusive
    label: str


def parse_period(text: str | None, *, now: datetime, timezone: str) -> Period:
    """`today` | `7d` | `30d` | `YYYY-MM-DD..YYYY-MM-DD` (inclusive days, local time).

    Empty means `7d`. Raises ValueError on anything else.
    """
    tz = ZoneInfo(timezone)
    local_now = now.astimezone(tz)
    spec = (text or "7d").strip().lower()
    if spec == "today":
        midnight = datetime.combine(local_now.date(), time(), tzinfo=tz)
        return Period(midnight, local_now + timedelta(microseconds=1), "today")
    if spec.endswith("d") and spec[:-1].isdigit() and 0 < int(spec[:-1]) <= 3660:
        days = int(spec[:-1])
        return Period(local_now - timedelta(days=days), local_now + timedelta(microseconds=1), spec)
    first, sep, last = spec.partition("..")
    if sep:
        start, end = date.fromisoformat(first), date.fromisoformat(last)
        if end < start:
            raise ValueError("the period ends before it starts")
        return Period(
            datetime.combine(start, time(), tzinfo=tz),
            datetime.combine(end + timedelta(days=1), time(), tzinfo=tz),
            f"{start.isoformat()}..{end.isoformat()}",
        )
    raise ValueError(f"unknown period {text!r}")


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


def _as_utc(moment: datetime) -> datetime:
    # SQLite hands back naive datetimes; the repository always writes UTC.
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _percent(part: int, whole: int) -> float:
    return round(100.0 * part / whole, 1) if whole else 0.0


def _step_order(per_user_steps: Iterable[list[str]], preferred: Sequence[str]) -> list[str]:
    """Known steps in `preferred` order; others by their average position in the visits."""
    positions: dict[str, list[int]] = defaultdict(list)
    for steps in per_user_steps:
        seen: list[str] = []
        for step in steps:
            if step not in seen:
                seen.append(step)
        for index, step in enumerate(seen):
            positions[step].append(index)
    rank = {step: index for index, step in enumerate(preferred)}
    return sorted(
        positions,
        key=lambda s: (rank.get(s, len(rank)), statistics.fmean(positions[s]), s),
    )


def build_funnel(
    events: Iterable[Event], period: Period, *, step_order: Sequence[str] = ()
) -> FunnelReport:
    """Compute the funnel report from events (already limited to the period)."""
    by_user: dict[int, list[Event]] = defaultdict(list)
    for event in sorted(events, key=lambda e: _as_utc(e.at)):
        by_user[event.user_id].append(event)

    scenario_of = {
        user: next((e.scenario for e in reversed(evs) if e.scenario), UNKNOWN_SCENARIO)
        for user, evs in by_user.items()
    }
    funnels: dict[str, ScenarioFunnel] = {}
    reached: dict[str, dict[str, set[int]]] = defaultdict(lambda: defaultdict(set))
    durations: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    sequences: dict[str, list[list[str]]] = defaultdict(list)
    handoffs: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    refusals: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    ratings: dict[str, list[int]] = defaultdict(list)

    for user, user_events in by_user.items():
        scenario = scenario_of[user]
        funnel = funnels.setdefault(scenario, ScenarioFunnel(scenario))
        for event in user_events:
            if event.kind == _KIND_HANDOFF:
                handoffs[scenario][event.step or ""] += 1
            elif event.kind == _KIND_REFUSAL:
                refusals[scenario][event.step or ""] += 1
            elif event.kind == _KIND_RATING and event.value is not None:
                ratings[scenario].append(event.value)
        if not any(e.kind == _KIND_STARTED for e in user_events):
            continue
        funnel.started += 1
        if any(e.kind == _KIND_LINKED for e in user_events):
            funnel.completed += 1
        moves = [e for e in user_events if e.kind in (_KIND_STEP, _KIND_LINKED)]
        sequences[scenario].append([e.step for e in moves if e.kind == _KIND_STEP and e.step])
        for current, following in itertools.pairwise(moves):
            if current.kind == _KIND_STEP and current.step:
                seconds = (_as_utc(following.at) - _as_utc(current.at)).total_seconds()
                durations[scenario][current.step].append(seconds)
        for event in moves:
            if event.kind == _KIND_STEP and event.step:
                reached[scenario][event.step].add(user)

    report = FunnelReport(period=period, scenarios=[])
    for scenario in sorted(funnels):
        funnel = funnels[scenario]
        steps = _step_order(sequences[scenario], step_order)
        extra = sorted((set(handoffs[scenario]) | set(refusals[scenario])) - set(steps) - {""})
        for step in [*steps, *extra]:
            visits = durations[scenario].get(step, [])
            funnel.steps.append(
                StepStats(
                    step=step,
                    reached=len(reached[scenario].get(step, ())),
                    conversion=_percent(len(reached[scenario].get(step, ())), funnel.started),
                    median_seconds=statistics.median(visits) if visits else None,
                    handoffs=handoffs[scenario].get(step, 0),
                    refusals=refusals[scenario].get(step, 0),
                )
            )
        funnel.conversion = _percent(funnel.completed, funnel.started)
        funnel.handoffs = sum(handoffs[scenario].values())
        funnel.ratings = len(ratings[scenario])
        funnel.average_rating = (
            round(statistics.fmean(ratings[scenario]), 2) if ratings[scenario] else None
        )
        report.scenarios.append(funnel)
    every_rating = [value for values in ratings.values() for value in values]
    report.ratings = len(every_rating)
    report.average_rating = round(statistics.fmean(every_rating), 2) if every_rating else None
    report.handoffs = sum(f.handoffs for f in report.scenarios)
    return report


CSV_HEADER = (
    "scenario",
    "stage",
    "teachers",
    "conversion_pct",
    "median_seconds",
    "handoffs",
    "refusals",
    "ratings",
    "average_rating",
)


def _number(value: float | None) -> str:
    if value is None:
        return ""
    return str(int(value)) if float(value).is_integer() else f"{value:.1f}"


def funnel_csv(report: FunnelReport) -> str:
    """The report as CSV: per scenario a `started` row, one row per step, a `completed` row."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_HEADER)
    for funnel in report.scenarios:
        started_pct = "100" if funnel.started else "0"
        writer.writerow([funnel.scenario, "started", funnel.started, started_pct, *[""] * 5])
        for step in funnel.steps:
            writer.writerow(
                [
                    funnel.scenario,
                    step.step,
                    step.reached,
                    _number(step.conversion),
                    _number(step.median_seconds),
                    step.handoffs,
                    step.refusals,
                    "",
                    "",
                ]
            )
        writer.writerow(
            [
                funnel.scenario,
                "completed",
                funnel.completed,
                _number(funnel.conversion),
                "",
                funnel.handoffs,
                sum(s.refusals for s in funnel.steps),
                funnel.ratings,
                _number(funnel.average_rating),
            ]
        )
    return out.getvalue()


def funnel_chart_png(
    report: FunnelReport, *, title: str, labels: dict[str, str] | None = None
) -> bytes:
    """A horizontal bar chart per scenario (started → steps → completed), as PNG bytes."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    labels = labels or {}
    funnels = report.scenarios or [ScenarioFunnel(UNKNOWN_SCENARIO)]
    heights = [max(2.0, 0.45 * (len(f.steps) + 3)) for f in funnels]
    figure = Figure(figsize=(9, sum(heights) + 0.8))
    FigureCanvasAgg(figure)
    axes = figure.subplots(len(funnels), 1, squeeze=False, height_ratios=heights)[:, 0]
    for ax, funnel in zip(axes, funnels, strict=True):
        names = [labels.get("started", "started")]
        values = [funnel.started]
        for step in funnel.steps:
            names.append(labels.get(step.step, step.step))
            values.append(step.reached)
        names.append(labels.get("completed", "completed"))
        values.append(funnel.completed)
        positions = list(range(len(values)))
        ax.barh(positions, values, color="#4a76a8")
        ax.set_yticks(positions, names)
        ax.invert_yaxis()
        for position, value in zip(positions, values, strict=True):
            ax.text(value, position, f" {value}", va="center")
        ax.set_title(labels.get(funnel.scenario, funnel.scenario), loc="left")
        ax.set_xlim(0, max([*values, 1]) * 1.15)
    figure.suptitle(title)
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=100)
    return buffer.getvalue()


async def load_report(sessions, period: Period, *, step_order: Sequence[str] = ()) -> FunnelReport:  # type: ignore[no-untyped-def]
    """Read the period's events through LinkSessionRepository.events and build the report."""
    events = await sessions.events(period.since.astimezone(UTC), period.until.astimezone(UTC))
    return build_funnel(events, period, step_order=step_order)
