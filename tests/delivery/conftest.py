"""Fixtures for delivery tests: simulated time, a SQLite write lock held by a stranger, Redis."""

from __future__ import annotations

import asyncio
import sqlite3
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from redis.asyncio import Redis
from redis.exceptions import ConnectionError as RedisConnectionError

from services.storage.db import create_all, create_engine, create_session_factory
from tests.storage.conftest import (
    POSTGRES_URL_TEMPLATE,
    REDIS_URL,
    _unavailable,
    create_postgres_database,
    drop_postgres_database,
)


class SimulatedTime:
    """Seconds that pass only when code sleeps; `at(t, action)` runs `action` once t is reached.

    Sleeping never waits for real: it moves the clock, runs what became due, and yields once.
    """

    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []
        self._due: list[tuple[float, Callable[[], Any]]] = []

    def __call__(self) -> float:
        return self.now

    def at(self, moment: float, action: Callable[[], Any]) -> None:
        self._due.append((moment, action))

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds
        for entry in [d for d in self._due if d[0] <= self.now]:
            self._due.remove(entry)
            entry[1]()
        await asyncio.sleep(0)


class WriteLock:
    """Another connection holding SQLite's write lock (BEGIN IMMEDIATE) until `release()`."""

    def __init__(self, path: Path) -> None:
        self._connection = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self.held = False

    async def hold(self) -> None:
        # Taken from a thread: the bot's own connection may be mid-transaction waiting for the
        # event loop to send its COMMIT, and blocking the loop here would deadlock until timeout.
        await asyncio.to_thread(self._connection.execute, "BEGIN IMMEDIATE")
        self.held = True

    def release(self) -> None:
        if self.held:
            self._connection.execute("COMMIT")
            self.held = False

    def close(self) -> None:
        self.release()
        self._connection.close()


@pytest.fixture
def simulated_time() -> SimulatedTime:
    return SimulatedTime()


@pytest.fixture
async def redis_prefix() -> AsyncIterator[str]:
    """A key prefix unique to this test (its keys are deleted afterwards); skips without Redis."""
    prefix = f"delivery-test-{uuid.uuid4().hex[:12]}"
    redis = Redis.from_url(REDIS_URL, socket_connect_timeout=2)
    try:
        await redis.ping()
    except (RedisConnectionError, OSError) as error:
        await redis.aclose()
        _unavailable("Redis", error)
    yield prefix
    keys = [key async for key in redis.scan_iter(match=f"{prefix}:*")]
    if keys:
        await redis.delete(*keys)
    await redis.aclose()


@pytest.fixture
async def redis(redis_prefix: str) -> AsyncIterator[Redis]:
    client = Redis.from_url(REDIS_URL)
    yield client
    await client.aclose()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def bot_database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, empty bot database: a SQLite file, then a PostgreSQL database for this test."""
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'bot.sqlite3'}"
        return
    name = create_postgres_database("delivery_test")
    try:
        yield POSTGRES_URL_TEMPLATE.format(database=name)
    finally:
        drop_postgres_database(name)


@pytest.fixture
async def factory(bot_database_url: str) -> AsyncIterator[Any]:
    """A session factory on `bot_database_url` with every table created."""
    engine = create_engine(bot_database_url)
    await create_all(engine)
    yield create_session_factory(engine)
    await engine.dispose()
