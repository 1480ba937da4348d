"""The bot's SQLite statements run in the event loop's thread; one that meets another
connection's lock waits for it in aiosqlite's thread, never in the loop; work inside
`off_the_loop()` runs in aiosqlite's thread."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, text
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine

from services.storage.db import create_all, create_engine
from services.storage.fsm_records import FsmRecordsGateway
from services.storage.sqlite_one_hop import BIG_BATCH_ROWS, off_the_loop


async def _thread_of_statements(engine: AsyncEngine) -> int:
    async with engine.connect() as connection:
        raw = await connection.get_raw_connection()
        await raw.driver_connection.create_function("thread_id", 0, threading.get_ident)
        result = await connection.execute(text("SELECT thread_id()"))
        return int(result.scalar_one())


async def _make_table(engine: AsyncEngine) -> None:
    async with engine.begin() as connection:
        await connection.execute(text("CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT)"))
        await connection.execute(text("INSERT INTO notes (body) VALUES ('first')"))


async def _loop_turns_while(task: asyncio.Task[object]) -> None:
    """The loop keeps turning while `task` waits: it is neither refused at once nor through."""
    started = time.monotonic()
    for _ in range(100):
        await asyncio.sleep(0)
    assert time.monotonic() - started < 1.0
    assert not task.done()


async def test_statements_run_in_the_event_loops_thread(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'bot.sqlite3'}")
    try:
        assert await _thread_of_statements(engine) == threading.get_ident()
    finally:
        await engine.dispose()


async def test_off_the_loop_runs_them_in_the_databases_thread(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'bot.sqlite3'}")
    try:
        with off_the_loop():
            assert await _thread_of_statements(engine) != threading.get_ident()
        assert await _thread_of_statements(engine) == threading.get_ident()  # and back
    finally:
        await engine.dispose()


async def test_a_read_does_not_wait_for_another_processs_writer(tmp_path: Path) -> None:
    path = tmp_path / "bot.sqlite3"
    engine = create_engine(f"sqlite+aiosqlite:///{path}")
    other = sqlite3.connect(path, isolation_level=None)  # another process, as SQLite sees it
    try:
        await _make_table(engine)
        other.execute("BEGIN IMMEDIATE")
        other.execute("INSERT INTO notes (body) VALUES ('uncommitted')")
        async with engine.connect() as connection:
            result = await connection.execute(text("SELECT body FROM notes ORDER BY id"))
            assert result.scalars().all() == ["first"]  # WAL: the last committed snapshot
    finally:
        other.close()
        await engine.dispose()


@pytest.mark.parametrize("off", [False, True], ids=["in the loop", "off the loop"])
async def test_a_write_waits_for_another_processs_lock_without_blocking_the_loop(
    tmp_path: Path, off: bool
) -> None:
    path = tmp_path / "bot.sqlite3"
    engine = create_engine(f"sqlite+aiosqlite:///{path}")
    other = sqlite3.connect(path, isolation_level=None)
    try:
        await _make_table(engine)
        other.execute("BEGIN IMMEDIATE")  # holds the write lock
        other.execute("INSERT INTO notes (body) VALUES ('other')")

        async def write() -> list[str]:
            async with engine.begin() as connection:
                await connection.execute(text("INSERT INTO notes (body) VALUES ('ours')"))
            async with engine.connect() as connection:
                result = await connection.execute(text("SELECT body FROM notes ORDER BY id"))
                return list(result.scalars().all())

        if off:
            with off_the_loop():
                writing = asyncio.create_task(write())
        else:
            writing = asyncio.create_task(write())
        await _loop_turns_while(writing)
        other.execute("COMMIT")
        # Then it goes on, in the same transaction, and commits after the other process.
        assert await asyncio.wait_for(writing, 10) == ["first", "other", "ours"]
    finally:
        other.close()
        await engine.dispose()


async def test_a_commit_is_durable_for_another_connection_at_once(tmp_path: Path) -> None:
    path = tmp_path / "bot.sqlite3"
    engine = create_engine(f"sqlite+aiosqlite:///{path}")
    try:
        await _make_table(engine)
        async with engine.begin() as connection:
            await connection.execute(text("INSERT INTO notes (body) VALUES ('second')"))
        other = sqlite3.connect(path)
        try:
            rows = other.execute("SELECT body FROM notes ORDER BY id").fetchall()
        finally:
            other.close()
        assert rows == [("first",), ("second",)]
    finally:
        await engine.dispose()


async def test_with_no_busy_timeout_a_locked_write_fails_at_once(tmp_path: Path) -> None:
    path = tmp_path / "bot.sqlite3"
    engine = create_engine(f"sqlite+aiosqlite:///{path}", sqlite_busy_timeout_ms=0)
    other = sqlite3.connect(path, isolation_level=None)
    try:
        await _make_table(engine)
        other.execute("BEGIN IMMEDIATE")
        with pytest.raises(OperationalError, match="database is locked"):
            async with engine.begin() as connection:
                await connection.execute(text("INSERT INTO notes (body) VALUES ('ours')"))
        other.execute("ROLLBACK")
        async with engine.begin() as connection:  # the connection is usable afterwards
            await connection.execute(text("INSERT INTO notes (body) VALUES ('ours')"))
            result = await connection.execute(text("SELECT count(*) FROM notes"))
            assert result.scalar_one() == 2
    finally:
        other.close()
        await engine.dispose()


async def test_a_short_busy_timeout_gives_up_in_the_databases_thread(tmp_path: Path) -> None:
    path = tmp_path / "bot.sqlite3"
    engine = create_engine(f"sqlite+aiosqlite:///{path}", sqlite_busy_timeout_ms=1500)
    other = sqlite3.connect(path, isolation_level=None)
    try:
        await _make_table(engine)
        other.execute("BEGIN IMMEDIATE")  # never released while we write

        async def write() -> None:
            async with engine.begin() as connection:
                await connection.execute(text("INSERT INTO notes (body) VALUES ('ours')"))

        writing = asyncio.create_task(write())
        await _loop_turns_while(writing)
        with pytest.raises(OperationalError, match="database is locked"):
            await asyncio.wait_for(writing, 10)
    finally:
        other.close()
        await engine.dispose()


async def test_a_writer_cancelled_while_it_waits_leaves_the_loop_free(tmp_path: Path) -> None:
    """Its statement was waiting in aiosqlite's thread: SQLAlchemy gives up the connection
    (closed in that thread), nothing of it is committed, and the next writer goes on."""
    path = tmp_path / "bot.sqlite3"
    engine = create_engine(f"sqlite+aiosqlite:///{path}")
    other = sqlite3.connect(path, isolation_level=None)
    try:
        await _make_table(engine)
        other.execute("BEGIN IMMEDIATE")

        async def write() -> None:
            async with engine.begin() as connection:
                await connection.execute(text("INSERT INTO notes (body) VALUES ('ours')"))

        writing = asyncio.create_task(write())
        await _loop_turns_while(writing)
        writing.cancel()
        await _loop_turns_while(writing)  # its clean-up does not hold the loop either
        other.execute("COMMIT")
        with pytest.raises(asyncio.CancelledError):
            await asyncio.wait_for(writing, 10)
        async with engine.begin() as connection:  # nothing of it was committed; all usable
            await connection.execute(text("INSERT INTO notes (body) VALUES ('later')"))
            result = await connection.execute(text("SELECT body FROM notes ORDER BY id"))
            assert result.scalars().all() == ["first", "later"]
    finally:
        other.close()
        await engine.dispose()


def _threads_of_sqlite_statements(engine: AsyncEngine) -> list[tuple[int, str]]:
    """(thread, SQL) of every statement SQLite itself runs on the engine's new connections."""
    seen: list[tuple[int, str]] = []

    def on_connect(dbapi_connection: Any, _record: object) -> None:
        raw = dbapi_connection._connection._conn  # the sqlite3 connection under aiosqlite
        raw.set_trace_callback(lambda sql: seen.append((threading.get_ident(), sql)))

    event.listen(engine.sync_engine, "connect", on_connect)
    return seen


def _writes(seen: list[tuple[int, str]], table: str) -> set[int]:
    return {thread for thread, sql in seen if sql.startswith("INSERT") and table in sql}


@pytest.mark.parametrize(
    ("rows", "in_the_loop"), [(1, True), (BIG_BATCH_ROWS - 1, True), (BIG_BATCH_ROWS, False)]
)
async def test_a_big_fsm_batch_is_written_off_the_loop(
    tmp_path: Path, rows: int, in_the_loop: bool
) -> None:
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'bot.sqlite3'}")
    seen = _threads_of_sqlite_statements(engine)
    gateway = FsmRecordsGateway(engine)
    try:
        await create_all(engine)
        await gateway.store([(f"key{n}", f"value{n}") for n in range(rows)], [])
        threads = _writes(seen, "fsm_records")
        assert threads
        if in_the_loop:
            assert threads == {threading.get_ident()}
        else:
            assert threading.get_ident() not in threads
        assert len(await gateway.load_many([f"key{n}" for n in range(rows)])) == rows
    finally:
        await gateway.close()
        await engine.dispose()
