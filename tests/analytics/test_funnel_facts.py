"""The funnel facts stay right as events keep coming: late, out of order, twice.

/stats reads per-teacher facts caught up from the events (services/analytics/facts.py). Here
the events arrive in batches with a report after each, the later batches holding events
older than ones already written and events written twice; after each batch the report equals
the Python reference over the events as they are now, and the statement over the events.
"""

from __future__ import annotations

import random
from collections.abc import AsyncIterator, Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, insert, select, text
from sqlalchemy.ext.asyncio import AsyncEngine

from bench.stats_data import generate
from bot.dialogs.steps import STEP_ORDER
from services.analytics import Period, load_funnel
from services.analytics.facts import catch_up, tidy
from services.storage.db import create_all, create_engine
from services.storage.models import AnalyticsEvent, FunnelFact, FunnelTeacher
from tests.analytics.conftest import NOW, SPREAD, START
from tests.analytics.reference import reference_funnel
from tests.storage.conftest import (
    POSTGRES_URL_TEMPLATE,
    create_postgres_database,
    drop_postgres_database,
)

EVERYTHING = Period(START - timedelta(days=1), NOW, "all")
HALF = Period(START + SPREAD / 2, NOW, "half")


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, empty database for one test (created outside the test's event loop)."""
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'facts.sqlite3'}"
        return
    name = create_postgres_database("facts_test")
    try:
        yield POSTGRES_URL_TEMPLATE.format(database=name)
    finally:
        drop_postgres_database(name)


@pytest.fixture
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(database_url)
    await create_all(engine)
    try:
        yield engine
    finally:
        await engine.dispose()


async def _write(engine: AsyncEngine, rows: list[dict]) -> None:
    async with engine.begin() as connection:
        await connection.execute(insert(AnalyticsEvent), rows)


async def _assert_report_right(engine: AsyncEngine, period: Period) -> None:
    async with engine.connect() as connection:
        since, until = period.utc_bounds
        events = (
            await connection.execute(
                select(AnalyticsEvent.__table__)
                .where(AnalyticsEvent.at >= since, AnalyticsEvent.at < until)
                .order_by(AnalyticsEvent.at, AnalyticsEvent.id)
            )
        ).all()
    expected = reference_funnel(events, period, step_order=STEP_ORDER)
    assert await load_funnel(engine, period, step_order=STEP_ORDER) == expected
    assert await load_funnel(engine, period, step_order=STEP_ORDER, facts=False) == expected


async def test_facts_follow_late_out_of_order_and_repeated_events(engine: AsyncEngine) -> None:
    rng = random.Random(5)
    events = generate(150, start=START, spread=SPREAD, seed=21).events
    rng.shuffle(events)  # written in any order: ids no longer follow time
    first, later = events[: len(events) // 2], events[len(events) // 2 :]
    await _write(engine, first)
    await _assert_report_right(engine, EVERYTHING)

    # The rest, plus some events written a second time, plus some moved before her others.
    twice = rng.sample(first, 40)
    earlier = [{**e, "at": e["at"] - timedelta(hours=2)} for e in rng.sample(later, 40)]
    await _write(engine, later + twice + earlier)
    for period in (EVERYTHING, HALF):
        await _assert_report_right(engine, period)

    async with engine.connect() as connection:
        teachers = await connection.scalar(select(func.count()).select_from(FunnelTeacher))
        users = await connection.scalar(select(func.count(func.distinct(AnalyticsEvent.user_id))))
        facts_users = await connection.scalar(select(func.count(func.distinct(FunnelFact.user_id))))
    assert teachers == users  # one row per teacher, none left over or doubled
    assert 0 < facts_users <= users


async def test_catch_up_recomputes_only_the_teachers_with_new_events(
    engine: AsyncEngine,
) -> None:
    events = generate(60, start=START, spread=SPREAD, seed=3).events
    await _write(engine, events)
    async with engine.begin() as connection:
        assert await catch_up(connection) == 60  # the backfill: everyone
    async with engine.begin() as connection:
        assert await catch_up(connection) == 0  # nothing new: nothing read

    one = events[-1]["user_id"]
    await _write(engine, [{**events[-1], "kind": "linked", "at": NOW - timedelta(hours=1)}])
    async with engine.begin() as connection:
        assert await catch_up(connection) == 1
        linked = await connection.scalar(
            select(FunnelTeacher.linked).where(FunnelTeacher.user_id == one)
        )
    assert linked
    await _assert_report_right(engine, EVERYTHING)


async def test_an_event_committed_after_a_higher_id_is_still_caught_up(
    engine: AsyncEngine,
) -> None:
    """Two replicas writing: one commits id n+2 and a report catches up to it; the other then
    commits id n+1 (taken earlier, committed later). That teacher's facts must follow."""
    events = generate(40, start=START, spread=SPREAD, seed=7).events
    await _write(engine, events)
    async with engine.connect() as connection:
        top = await connection.scalar(select(func.max(AnalyticsEvent.id)))
    assert top is not None
    first, late = events[0], events[-1]
    assert first["user_id"] != late["user_id"]
    await _write(engine, [{**first, "id": top + 2, "at": NOW - timedelta(hours=2)}])
    async with engine.begin() as connection:
        await catch_up(connection)  # seen: top + 2

    late_linked = {**late, "id": top + 1, "kind": "linked", "at": NOW - timedelta(hours=1)}
    await _write(engine, [late_linked])  # the slower replica's commit, below what was seen
    async with engine.begin() as connection:
        assert await catch_up(connection) == 1  # her, and only her
        linked = await connection.scalar(
            select(FunnelTeacher.linked).where(FunnelTeacher.user_id == late["user_id"])
        )
    assert linked
    await _assert_report_right(engine, EVERYTHING)


async def test_tidy_leaves_the_funnel_facts_readable_from_their_indexes(
    engine: AsyncEngine,
) -> None:
    """After the backfill, `python -m bot migrate` VACUUMs the funnel tables on PostgreSQL:
    their pages become all-visible, so the medians' stays are read from the index alone
    (without it, until autovacuum passes, every stay read also visits the table)."""
    await _write(engine, generate(200, start=START, spread=SPREAD, seed=9).events)
    async with engine.begin() as connection:
        await catch_up(connection)

    await tidy(engine)

    if engine.dialect.name != "postgresql":
        return  # nothing to do on SQLite: its indexes hold what the reads need
    async with engine.connect() as connection:
        visible = await connection.scalar(
            text("SELECT relallvisible FROM pg_class WHERE relname = 'funnel_facts'")
        )
    assert visible and visible > 0
