"""Fixtures for the helpdesk: a database on a temp file, the services on it, manual clocks."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker

from services.clock import FakeClock
from services.helpdesk import TicketService, TranscriptStore
from services.storage.db import create_all, create_engine, create_session_factory
from services.storage.link_sessions import LinkSessionRepository


class WallClock:
    """A settable wall clock (aware UTC datetimes) for the services."""

    def __init__(self, start: datetime) -> None:
        self.moment = start

    def __call__(self) -> datetime:
        return self.moment

    def now(self) -> datetime:
        return self.moment

    def advance(self, **delta: float) -> None:
        self.moment += timedelta(**delta)


class ManualTime:
    """A monotonic clock whose `sleep` only moves time forward (no real waiting)."""

    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds
        await asyncio.sleep(0)


# Wednesday 10:00 in Moscow: inside working hours.
WEDNESDAY_MORNING = datetime(2025, 3, 12, 7, 0, tzinfo=UTC)


@pytest.fixture
def wall() -> WallClock:
    return WallClock(WEDNESDAY_MORNING)


@pytest.fixture
async def engine(tmp_path: Path) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'helpdesk.sqlite3'}")
    await create_all(engine)
    yield engine
    await engine.dispose()


@pytest.fixture
def session_factory(engine: AsyncEngine) -> async_sessionmaker:
    return create_session_factory(engine)


@pytest.fixture
def tickets(session_factory: async_sessionmaker, wall: WallClock) -> TicketService:
    return TicketService(session_factory, clock=wall)


@pytest.fixture
async def transcript(
    session_factory: async_sessionmaker, wall: WallClock
) -> AsyncIterator[TranscriptStore]:
    store = TranscriptStore(session_factory, clock=wall)
    yield store
    await store.close()  # its writer holds a connection


@pytest.fixture
async def sessions(
    session_factory: async_sessionmaker, wall: WallClock
) -> AsyncIterator[LinkSessionRepository]:
    repository = LinkSessionRepository(session_factory, clock=wall)
    yield repository
    await repository.close()  # its writer holds a connection


# --- the whole bot with a helpdesk: `hd`, `hd_without_topics`, `demo` (tests/support/fixtures.py)


@pytest.fixture
def bot_clock(clock: FakeClock) -> FakeClock:
    """The FakeClock the backend and the bot read (`clock`, tests/support/fixtures.py).

    It starts on Wednesday 10:00 in Moscow: inside working hours.
    """
    return clock
