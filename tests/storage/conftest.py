"""Fixtures for the FSM storage tests: SQLite files, a throwaway PostgreSQL database, Redis."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, text
from sqlalchemy.ext.asyncio import AsyncEngine

from services.storage.db import create_engine
from services.storage.fsm import FsmRecord

POSTGRES_ADMIN_DSN = "postgresql://postgres@127.0.0.1:5432/test"
POSTGRES_URL_TEMPLATE = "postgresql+asyncpg://postgres@127.0.0.1:5432/{database}"
REDIS_URL = "redis://127.0.0.1:6379/0"


def _unavailable(service: str, error: BaseException) -> None:
    """Skip locally, fail in CI: there the service is part of the contract."""
    message = f"{service} unreachable on 127.0.0.1: {error!r}"
    if os.environ.get("CI") == "true":
        pytest.fail(message)
    pytest.skip(message)


def _postgres_admin(sql: str) -> None:
    """Run one statement (CREATE/DROP DATABASE) on the local server as its admin."""
    import asyncpg

    async def run() -> None:
        connection = await asyncpg.connect(POSTGRES_ADMIN_DSN, timeout=3)
        try:
            await connection.execute(sql)
        finally:
            await connection.close()

    asyncio.run(run())


def create_postgres_database(prefix: str) -> str:
    """Create an empty database `<prefix>_<random>` and return its name (server down: skip)."""
    import asyncpg

    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    try:
        _postgres_admin(f'CREATE DATABASE "{name}"')
    except (OSError, asyncpg.PostgresError, TimeoutError) as error:
        _unavailable("PostgreSQL", error)
    return name


def drop_postgres_database(name: str) -> None:
    _postgres_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def postgres_database() -> Iterator[str]:
    """A database created for this test run (dropped at the end); yields its SQLAlchemy URL."""
    name = create_postgres_database("fsm_test")
    try:
        yield POSTGRES_URL_TEMPLATE.format(database=name)
    finally:
        drop_postgres_database(name)


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite+aiosqlite:///{tmp_path / 'bot.sqlite3'}"


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, sqlite_url: str) -> str:
    """The bot database URL, once per supported backend."""
    if request.param == "postgres":
        return request.getfixturevalue("postgres_database")
    return sqlite_url


@pytest.fixture
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    """An engine with an empty fsm_records table."""
    engine = create_engine(database_url)
    async with engine.begin() as connection:
        await connection.run_sync(FsmRecord.__table__.create, checkfirst=True)
        await connection.execute(text("DELETE FROM fsm_records"))
    yield engine
    await engine.dispose()


@dataclass
class StatementLog:
    """SQL statements the engine ran, for asserting how many writes a scope made."""

    statements: list[tuple[str, Any, bool]] = field(default_factory=list)
    commits: int = 0

    def matching(self, verb: str) -> list[tuple[str, Any, bool]]:
        return [s for s in self.statements if s[0].lstrip().upper().startswith(verb)]

    def written_keys(self) -> list[str]:
        """Keys of every row upserted or deleted, once per row write."""
        keys: list[str] = []
        for statement, parameters, executemany in self.statements:
            verb = statement.lstrip().upper()
            if verb.startswith("INSERT"):
                rows = parameters if executemany else [parameters]
                keys.extend(_first(row) for row in rows)
            elif verb.startswith("DELETE"):
                keys.extend(_flatten(parameters))
        return keys

    def clear(self) -> None:
        self.statements.clear()
        self.commits = 0


def _first(row: Any) -> str:
    return row["key"] if isinstance(row, dict) else row[0]


def _flatten(parameters: Any) -> list[str]:
    if isinstance(parameters, dict):
        return [str(v) for v in parameters.values()]
    return [str(v) for v in parameters]


@pytest.fixture
def statement_log(engine: AsyncEngine) -> Iterator[StatementLog]:
    log = StatementLog()

    def on_execute(_conn, _cursor, statement, parameters, _context, executemany) -> None:  # type: ignore[no-untyped-def]
        log.statements.append((statement, parameters, executemany))

    def on_commit(_conn) -> None:  # type: ignore[no-untyped-def]
        log.commits += 1

    event.listen(engine.sync_engine, "before_cursor_execute", on_execute)
    event.listen(engine.sync_engine, "commit", on_commit)
    yield log
    event.remove(engine.sync_engine, "before_cursor_execute", on_execute)
    event.remove(engine.sync_engine, "commit", on_commit)
