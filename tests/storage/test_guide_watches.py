"""Guide mode's leases: one process follows a flow at a time; a lapsed lease passes on with its
cursor; processes claiming at once never fail and only one wins (SQLite and PostgreSQL)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from services.storage.db import create_engine, create_session_factory
from services.storage.guide_watches import GuideWatch, GuideWatches


class Clock:
    def __init__(self) -> None:
        self.moment = datetime(2026, 11, 30, 10, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.moment


@pytest.fixture
async def watches_engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(database_url)
    async with engine.begin() as connection:
        await connection.run_sync(GuideWatch.__table__.create, checkfirst=True)
        await connection.execute(text("DELETE FROM guide_watches"))
    yield engine
    await engine.dispose()


def process(engine: AsyncEngine, owner: str, clock: Clock) -> GuideWatches:
    return GuideWatches(create_session_factory(engine), owner=owner, clock=clock)


async def test_one_holder_then_the_lapsed_lease_passes_on_with_its_cursor(
    watches_engine: AsyncEngine,
) -> None:
    clock = Clock()
    first, second = (process(watches_engine, name, clock) for name in ("a", "b"))
    assert await first.claim("flow-1", user_id=7, chat_id=7, after=3) == 3
    assert await second.claim("flow-1", user_id=7, chat_id=7) is None  # held
    assert await first.advance("flow-1", 12)
    assert await first.claim("flow-1", user_id=7, chat_id=7) == 12  # renewing keeps the cursor
    assert await second.lapsed() == []
    clock.moment += timedelta(seconds=61)  # the first process died: nobody renews
    assert await second.lapsed() == [("flow-1", 7, 7)]
    assert await second.claim("flow-1", user_id=7, chat_id=7) == 12  # goes on from there
    assert not await first.advance("flow-1", 20)  # the old holder lost it
    await second.release("flow-1", finished=True)
    assert await second.holder("flow-1") is None


async def test_processes_claiming_at_once_never_fail_and_one_wins(
    watches_engine: AsyncEngine,
) -> None:
    clock = Clock()
    processes = [process(watches_engine, f"p{n}", clock) for n in range(6)]
    won = await asyncio.gather(
        *(p.claim("flow-2", user_id=8, chat_id=8, after=5) for p in processes)
    )
    assert [result for result in won if result is not None] == [5]  # one winner
