"""A generated data set (bench/stats_data.py) in SQLite and in a throwaway PostgreSQL database.

The database is filled once per module and backend; each test opens its own engine on it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bench.stats_data import Dataset, generate, insert_dataset
from services.storage.db import create_all, create_engine
from tests.storage.conftest import (
    POSTGRES_URL_TEMPLATE,
    create_postgres_database,
    drop_postgres_database,
)

START = datetime(2026, 11, 2, 6, 0, tzinfo=UTC)  # a Monday, 09:00 in Moscow
SPREAD = timedelta(days=20)
NOW = START + SPREAD + timedelta(days=2)
TEACHERS = 600


@dataclass(frozen=True)
class StatsDatabase:
    url: str
    dataset: Dataset


def _fill(url: str, dataset: Dataset) -> None:
    async def run() -> None:
        engine = create_engine(url)
        try:
            await create_all(engine)
            async with engine.begin() as connection:
                await insert_dataset(connection, dataset, now=NOW)
        finally:
            await engine.dispose()

    asyncio.run(run())


@pytest.fixture(scope="module")
def dataset() -> Dataset:
    return generate(TEACHERS, start=START, spread=SPREAD, seed=13)


@pytest.fixture(
    scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def stats_db(
    request: pytest.FixtureRequest, dataset: Dataset, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[StatsDatabase]:
    if request.param == "sqlite":
        path: Path = tmp_path_factory.mktemp("stats") / "stats.sqlite3"
        url = f"sqlite+aiosqlite:///{path}"
        _fill(url, dataset)
        yield StatsDatabase(url, dataset)
        return
    name = create_postgres_database("stats_test")
    try:
        url = POSTGRES_URL_TEMPLATE.format(database=name)
        _fill(url, dataset)
        yield StatsDatabase(url, dataset)
    finally:
        drop_postgres_database(name)
