"""On SQLite the backend's session runs its statements without a greenlet each, once its
transaction has a connection and BEGIN; that first step still goes through one, since BEGIN may
have to wait for another process's write lock (services/linking/db.py, InLoopSession)."""

from __future__ import annotations

import asyncio
import sqlite3
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import delete, func, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.util.concurrency import in_greenlet

from services.linking.db import (
    Database,
    InLoopSession,
    create_engine,
    create_schema,
    execute_core,
    rows_affected,
    table,
)
from services.linking.models import BudgetSubject
from services.storage import sqlite_one_hop


@pytest.fixture
async def database(tmp_path: Path) -> Any:
    database = Database(create_engine(f"sqlite+aiosqlite:///{tmp_path / 'linking.sqlite3'}"))
    async with database.engine.begin() as connection:
        await connection.execute(text("CREATE TABLE notes (id INTEGER PRIMARY KEY, body)"))
    yield database
    await database.dispose()


@pytest.fixture
def statements(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, bool]]:
    """Each statement's first word and whether it ran inside SQLAlchemy's greenlet."""
    seen: list[tuple[str, bool]] = []
    one_hop = sqlite_one_hop.InLoopCursor._one_hop

    def noted(cursor: Any, operation: Any, parameters: Any, many: bool) -> None:
        seen.append((operation.split()[0], in_greenlet()))
        one_hop(cursor, operation, parameters, many)

    monkeypatch.setattr(sqlite_one_hop.InLoopCursor, "_one_hop", noted)
    return seen


async def _count(database: Database) -> int:
    async with database.engine.connect() as connection:
        return int((await connection.execute(text("SELECT count(*) FROM notes"))).scalar_one())


async def test_only_begin_goes_through_a_greenlet(
    database: Database, statements: list[tuple[str, bool]]
) -> None:
    async with database.transaction() as session:
        assert isinstance(session, InLoopSession)
        await session.execute(text("INSERT INTO notes (body) VALUES ('a')"))
        assert await session.scalar(text("SELECT count(*) FROM notes")) == 1
        await session.commit()  # the next statement begins a transaction anew
        await session.execute(text("INSERT INTO notes (body) VALUES ('b')"))
    assert statements == [
        ("BEGIN", True),
        ("INSERT", False),
        ("SELECT", False),
        ("BEGIN", True),
        ("INSERT", False),
    ]
    assert await _count(database) == 2


async def test_the_first_statement_waits_for_another_writer_without_blocking_the_loop(
    database: Database, tmp_path: Path
) -> None:
    other = sqlite3.connect(tmp_path / "linking.sqlite3", isolation_level=None)
    try:
        other.execute("BEGIN IMMEDIATE")  # another process holds the write lock
        other.execute("INSERT INTO notes (body) VALUES ('theirs')")

        async def write() -> int:
            async with database.transaction() as session:
                await session.execute(text("INSERT INTO notes (body) VALUES ('ours')"))
                return int(await session.scalar(text("SELECT count(*) FROM notes")))

        writing = asyncio.create_task(write())
        for _ in range(100):  # the loop keeps turning while BEGIN waits in aiosqlite's thread
            await asyncio.sleep(0)
        assert not writing.done()
        other.execute("COMMIT")
        assert await asyncio.wait_for(writing, 10) == 2
    finally:
        other.close()


async def test_an_error_rolls_the_transaction_back_and_the_connection_serves_again(
    database: Database, statements: list[tuple[str, bool]]
) -> None:
    with pytest.raises(IntegrityError):
        async with database.transaction() as session:
            await session.execute(text("INSERT INTO notes (id, body) VALUES (1, 'a')"))
            await session.execute(text("INSERT INTO notes (id, body) VALUES (1, 'b')"))
    async with database.transaction() as session:  # the first INSERT went with the second
        await session.execute(text("INSERT INTO notes (id, body) VALUES (1, 'c')"))
    assert statements == [
        ("BEGIN", True),
        ("INSERT", False),
        ("INSERT", False),
        ("BEGIN", True),
        ("INSERT", False),
    ]
    assert await _count(database) == 1


async def test_a_core_statement_sees_what_the_session_holds_pending(tmp_path: Path) -> None:
    """`execute_core` flushes first, as the ORM statement it replaces did (autoflush)."""
    database = Database(create_engine(f"sqlite+aiosqlite:///{tmp_path / 'linking.sqlite3'}"))
    subjects = table(BudgetSubject)
    count = select(func.count()).select_from(subjects)
    try:
        await create_schema(database.engine)
        async with database.transaction() as session:
            session.add(BudgetSubject(subject="s" * 64, touched_at=datetime.now(UTC)))
            assert (await execute_core(session, count)).scalar() == 1
            result = await execute_core(session, delete(subjects))
            assert rows_affected(result) == 1
    finally:
        await database.dispose()
