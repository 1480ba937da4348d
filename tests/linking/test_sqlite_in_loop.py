"""The backend's SQLite statements run in the event loop's thread; a BEGIN that must wait for
another process's write lock waits in aiosqlite's thread, never in the loop."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import time

from services.linking.db import create_engine, create_schema


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
