"""The backend's SQLite statements run in the event loop's thread; a BEGIN that must wait for
another process's write lock waits in aiosqlite's thread, never in the loop."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import text

from services.linking.db import Database, create_engine, create_schema
from services.storage import sqlite_one_hop


async def test_statements_run_in_the_event_loops_thread(tmp_path) -> None:
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'linking.sqlite3'}")
    try:
        async with engine.begin() as connection:
            raw = await connection.get_raw_connection()
            await raw.driver_connection.create_function("thread_id", 0, threading.get_ident)
            result = await connection.exec_driver_sql("SELECT thread_id()")
            assert result.scalar_one() == threading.get_ident()
    finally:
        await engine.dispose()


async def test_a_begin_waits_for_another_writer_without_blocking_the_loop(tmp_path) -> None:
    path = tmp_path / "linking.sqlite3"
    engine = create_engine(f"sqlite+aiosqlite:///{path}")
    other = sqlite3.connect(path, isolation_level=None)  # another process, as SQLite sees it
    try:
        await create_schema(engine)
        other.execute("BEGIN IMMEDIATE")  # holds the write lock
        other.execute(
            "INSERT INTO consents (flow_id, mesh_account_id, decision, decided_at)"
            " VALUES ('f', 'm', 'cancel', '2026-01-01 00:00:00.000000')"
        )

        async def write() -> int:
            async with engine.begin() as connection:
                result = await connection.exec_driver_sql("SELECT count(*) FROM consents")
                return int(result.scalar_one())

        writing = asyncio.create_task(write())
        started = time.monotonic()
        for _ in range(100):  # the loop keeps turning while the BEGIN waits for the lock
            await asyncio.sleep(0)
        assert time.monotonic() - started < 1.0
        assert not writing.done()  # it waits: neither refused at once nor through
        other.execute("COMMIT")
        assert await asyncio.wait_for(writing, 10) == 1  # then it goes on and sees the row
    finally:
        other.close()
        await engine.dispose()


async def test_the_wal_is_checkpointed_beside_the_loop_and_stays_small(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """SQLite's automatic checkpoint would copy the WAL and fsync inside a commit, in the
    loop's thread; it is off, and every CHECKPOINT_EVERY writing commits to the file one runs in
    a thread of its own, nobody waiting for it. The WAL then starts over instead of growing."""
    checkpoints: list[int] = []
    checkpoint = sqlite_one_hop._checkpoint_file

    def noted(path: str) -> None:
        checkpoints.append(threading.get_ident())
        checkpoint(path)

    monkeypatch.setattr(sqlite_one_hop, "_checkpoint_file", noted)
    monkeypatch.setattr(sqlite_one_hop, "CHECKPOINT_EVERY", 5)
    path = tmp_path / "linking.sqlite3"
    wal = tmp_path / "linking.sqlite3-wal"
    database = Database(create_engine(f"sqlite+aiosqlite:///{path}"))
    try:
        async with database.engine.begin() as connection:
            await connection.execute(text("CREATE TABLE notes (id INTEGER PRIMARY KEY, body)"))

        async def write(n: int) -> None:
            async with database.transaction() as session:
                await session.execute(text("INSERT INTO notes (body) VALUES (:n)"), {"n": n})

        async def read() -> None:
            async with database.transaction() as session:
                await session.execute(text("SELECT count(*) FROM notes"))

        started: list[object] = []  # the checkpoints begun, waited for one by one

        async def write_and_settle(n: int) -> None:
            await write(n)
            pending = sqlite_one_hop.pending_checkpoint(str(path))
            if pending is not None and pending not in started:
                started.append(pending)
                await asyncio.wrap_future(pending)

        async with database.engine.connect() as connection:
            result = await connection.execute(text("PRAGMA wal_autocheckpoint"))
            assert result.scalar_one() == 0
        for _ in range(6):  # reads write nothing: they do not count
            await read()
        assert sqlite_one_hop.pending_checkpoint(str(path)) is None
        seen = []
        for n in range(11):
            await write_and_settle(n)
            seen.append(len(started))
        assert seen == [0, 0, 0, 0, 1, 1, 1, 1, 1, 2, 2]
        assert len(checkpoints) == 2
        assert threading.get_ident() not in checkpoints
        for n in range(11, 50):
            await write_and_settle(n)
        size = wal.stat().st_size
        for n in range(50, 250):
            await write_and_settle(n)
        assert len(checkpoints) == 50
        assert wal.stat().st_size == size  # written over from its beginning, not grown
    finally:
        await database.dispose()
