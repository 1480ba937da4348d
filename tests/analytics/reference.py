"""The funnel computed the straightforward way, in Python, one object per event.

This is how /stats computed it before the aggregation moved into SQL; the tests hold the SQL
report to it, figure for figure, on generated data. Definitions: services/analytics/funnel.py.
"""

from __future__ import annotations

import itertools
import statistics
from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Protocol

from services.analytics import UNKNOWN_SCENARIO, FunnelReport, Period, ScenarioFunnel, StepStats

_KIND_STARTED, _KIND_STEP, _KIND_LINKED = "started", "step", "linked"
_KIND_HANDOFF, _KIND_REFUSAL, _KIND_RATING = "handoff", "refusal", "rating"


class Event(Protocol):
    at: datetime
    user_id: int
    kind: str
    scenario: str | None
    step: str | None
    value: int | None


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


def reference_funnel(
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
