"""The funnel aggregated in SQL equals the plain Python computation, figure for figure.

On a generated data set (600 teachers, every branch of the funnel: give-ups, «Назад», help
screens, recoveries, a switch to scenario B, refusals, handoffs, ratings, events sharing a
moment), on SQLite and on PostgreSQL, for periods that hold everything, cut teachers in half,
or hold nothing.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime, time, timedelta

import pytest
from sqlalchemy import select

from bench.stats_data import Dataset
from bot.dialogs.steps import STEP_ORDER
from services.analytics import Period, funnel, load_funnel
from services.storage.db import create_engine, create_session_factory
from services.storage.models import AnalyticsEvent
from tests.analytics.conftest import NOW, SPREAD, START, StatsDatabase
from tests.analytics.reference import reference_funnel

PERIODS = {
    "everything": Period(START - timedelta(days=1), NOW, "all"),
    # Starts mid-way: many teachers have events in it but no `started` one.
    "second half": Period(START + SPREAD / 2, NOW, "half"),
    "one day": Period(START + timedelta(days=3), START + timedelta(days=4), "day"),
    "nothing": Period(START - timedelta(days=30), START - timedelta(days=29), "none"),
}


async def _both(stats_db: StatsDatabase, period: Period):  # type: ignore[no-untyped-def]
    engine = create_engine(stats_db.url)
    try:
        async with create_session_factory(engine)() as db:
            sql = await load_funnel(db, period, step_order=STEP_ORDER)
            since, until = period.utc_bounds
            events = await db.scalars(
                select(AnalyticsEvent)
                .where(AnalyticsEvent.at >= since, AnalyticsEvent.at < until)
                .order_by(AnalyticsEvent.at, AnalyticsEvent.id)
            )
            python = reference_funnel(list(events), period, step_order=STEP_ORDER)
        return sql, python
    finally:
        await engine.dispose()


@pytest.mark.parametrize("name", list(PERIODS))
async def test_sql_funnel_equals_the_python_funnel(stats_db: StatsDatabase, name: str) -> None:
    sql, python = await _both(stats_db, PERIODS[name])

    assert sql == python  # dataclass equality: every count, percentage, median and rating
    if name != "nothing":
        assert sql.scenarios and sql.handoffs > 0


async def test_the_data_set_exercises_every_rule(stats_db: StatsDatabase) -> None:
    """Guards the comparison above against a data set too tame to catch a difference."""
    sql, _python = await _both(stats_db, PERIODS["everything"])
    scenarios = {f.scenario: f for f in sql.scenarios}
    assert set(scenarios) == {"new_profile", "existing_profile", "registration", "unknown"}
    steps = {s.step for f in sql.scenarios for s in f.steps}
    assert "Help:topic" in steps  # ordered by position, not by the dialogs' states
    assert any(s.step.startswith("Recovery:") for s in scenarios["new_profile"].steps)
    assert any(s.median_seconds is not None for s in scenarios["registration"].steps)
    assert sql.ratings > 0 and sql.average_rating is not None

    events = stats_db.dataset.events
    moments = Counter((e["user_id"], e["at"]) for e in events)
    assert max(moments.values()) > 1  # events of one teacher sharing a moment
    teachers_scenarios: dict[int, set[str]] = {}
    for e in events:
        if e["scenario"]:
            teachers_scenarios.setdefault(e["user_id"], set()).add(e["scenario"])
    assert any(len(s) > 1 for s in teachers_scenarios.values())  # switched to B

    half, _ = await _both(stats_db, PERIODS["second half"])
    active = {e["user_id"] for e in events if e["at"] >= START + SPREAD / 2}
    assert sum(f.started for f in half.scenarios) < len(active)  # some started before it


def _spans(dataset: Dataset) -> list[tuple[datetime, datetime]]:
    """Each teacher's first and last moment."""
    spans: dict[int, list[datetime]] = {}
    for event in dataset.events:
        span = spans.setdefault(event["user_id"], [event["at"], event["at"]])
        span[0], span[1] = min(span[0], event["at"]), max(span[1], event["at"])
    return sorted((first, last) for first, last in spans.values())


def _quiet_moment(dataset: Dataset, after: datetime) -> datetime:
    """The first teacher's start after `after` that no other teacher's events straddle."""
    spans = _spans(dataset)
    for first, _last in spans:
        if first > after and not any(f < first <= last for f, last in spans):
            return first
    raise AssertionError("no quiet moment in the data set")


def _busy_moment(dataset: Dataset, after: datetime, before: datetime) -> datetime:
    """The middle of a teacher's span between the two that most teachers' events straddle."""
    spans = _spans(dataset)
    middles = [first + (last - first) / 2 for first, last in spans if after < first < before]
    return max(middles, key=lambda m: sum(1 for f, last in spans if f < m <= last))


def _cutting(dataset: Dataset) -> Period:
    """A period whose bounds cut teachers in two (the data set's teachers take an hour or
    two: a bound at midnight or at a round hour rarely does)."""
    since = _busy_moment(dataset, START + timedelta(days=2), START + timedelta(days=5))
    until = _busy_moment(dataset, START + timedelta(days=9), START + timedelta(days=12))
    return Period(since, until, "cutting")


@pytest.mark.parametrize("few_cut", [None, 0])
async def test_a_period_that_cuts_teachers(
    stats_db: StatsDatabase, few_cut: int | None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Teachers the period cuts through are read from their events; their stays merged with
    the facts' for the medians — or, above `FEW_CUT` of them (here with the threshold at 0),
    every stay of the period ranked by the database. The same figures either way."""
    if few_cut is not None:
        monkeypatch.setattr(funnel, "FEW_CUT", few_cut)
    period = _cutting(stats_db.dataset)
    since, until = period.utc_bounds
    spans = _spans(stats_db.dataset)
    assert sum(1 for f, last in spans if f < since <= last or f < until <= last) >= 2
    sql, python = await _both(stats_db, period)

    assert sql == python
    assert any(s.median_seconds for f in sql.scenarios for s in f.steps)


async def test_a_period_that_cuts_no_teacher_but_cuts_days(stats_db: StatsDatabase) -> None:
    """Bounds no teacher's events straddle, in the middle of UTC days: every teacher is read
    from her facts, those of the whole days inside from the counts per day (funnel_counts),
    those of the two cut days from their facts; teachers outside it are skipped."""
    since = _quiet_moment(stats_db.dataset, START + timedelta(days=2, hours=3))
    until = _quiet_moment(stats_db.dataset, START + timedelta(days=9, hours=3))
    assert since.time() != time() and until.time() != time()
    sql, python = await _both(stats_db, Period(since, until, "quiet"))

    assert sql == python
    assert sql.scenarios and any(s.median_seconds for f in sql.scenarios for s in f.steps)
