"""Engine and session factory for the bot's own database (SQLite file or PostgreSQL)."""

from __future__ import annotations

import asyncio
import contextlib
import weakref
from contextlib import AbstractAsyncContextManager
from typing import Any

from sqlalchemy import MetaData, Table, event, make_url
from sqlalchemy.engine import Engine
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine
from sqlalchemy.orm import DeclarativeBase

from services.storage import sqlite_one_hop


class Base(DeclarativeBase):
    """Declarative base of every bot-side table (helpdesk and FSM tables included)."""


def table_of(model: type[Base]) -> Table:
    """The model's `Table`, for Core statements (declarative types `__table__` as FromClause)."""
    table = model.__table__
    assert isinstance(table, Table)
    return table


SQLITE_BUSY_TIMEOUT_MS = 5000


def create_engine(
    database_url: str, *, echo: bool = False, sqlite_busy_timeout_ms: int = SQLITE_BUSY_TIMEOUT_MS
) -> AsyncEngine:
    """Create an async engine; SQLite gets WAL and a busy timeout so readers never block writers.

    `sqlite_busy_timeout_ms` is how long a write waits for another connection's lock before it
    fails with "database is locked" (callers such as the write-behind then retry later).

    On SQLite the statements, commits and rollbacks run in the event loop's thread
    (`sqlite_one_hop.install_loop_first`): one that meets another connection's lock fails at
    once and waits for it in aiosqlite's thread, up to that busy timeout. Work that may take
    long (reports over many rows, retention sweeps) runs inside `sqlite_one_hop.off_the_loop()`.
    """
    sqlite = make_url(database_url).get_backend_name() == "sqlite"
    # The sqlite3 connection is opened in aiosqlite's thread and then also used from the loop's.
    engine = create_async_engine(
        database_url, echo=echo, connect_args={"check_same_thread": False} if sqlite else {}
    )
    if sqlite:
        busy_timeout_ms = int(sqlite_busy_timeout_ms)

        @event.listens_for(engine.sync_engine, "connect")
        def _sqlite_pragmas(dbapi_connection, _record) -> None:  # type: ignore[no-untyped-def]
            sqlite_one_hop.install(dbapi_connection)  # the PRAGMAs: one trip each
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute(f"PRAGMA busy_timeout={busy_timeout_ms}")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.close()
            # Then no trip to the thread, unless a lock has to be waited for.
            sqlite_one_hop.install_loop_first(dbapi_connection, busy_timeout_ms)

    return engine


_SQLITE_WRITE_LOCKS: weakref.WeakKeyDictionary[Engine, asyncio.Lock] = weakref.WeakKeyDictionary()


def sqlite_write_lock(engine: AsyncEngine | None) -> AbstractAsyncContextManager[Any]:
    """Held around a writing transaction: one at a time per SQLite database in this process.

    SQLite has one write lock per file. Two of our writers (the FSM storage's and the
    write-behind's) colliding on it used to meet in SQLite's busy handler, which sleeps 1 to
    100 ms between tries, or fail at once with a stale WAL snapshot and back off: p99s of
    0.4–1.4 s in scenario A (bench/README.md). Queueing on an asyncio lock costs nothing.
    Other databases need no such lock (a no-op).
    """
    if engine is None or engine.dialect.name != "sqlite":
        return contextlib.nullcontext()
    lock = _SQLITE_WRITE_LOCKS.get(engine.sync_engine)
    if lock is None:
        lock = _SQLITE_WRITE_LOCKS[engine.sync_engine] = asyncio.Lock()
    return lock


def create_session_factory(engine: AsyncEngine) -> async_sessionmaker:
    return async_sessionmaker(engine, expire_on_commit=False)


def registered_metadata() -> MetaData:
    """`Base.metadata` with every bot-side table registered (create_all, alembic, schema checks)."""
    # Import for side effects: each module registers its tables on Base.metadata.
    from services.helpdesk import models as _helpdesk_models  # noqa: F401
    from services.storage import (  # noqa: F401
        fsm_records,
        guide_watches,
        models,
        telegram_files,
    )

    return Base.metadata


async def create_all(engine: AsyncEngine) -> None:
    """Create every table known to `Base` (tests and the sandbox; production uses alembic)."""
    metadata = registered_metadata()
    async with engine.begin() as conn:
        await conn.run_sync(metadata.create_all)
