"""SQLite statements in one trip to aiosqlite's thread instead of three or four.

SQLAlchemy's aiosqlite adapter runs a statement as separate calls into aiosqlite's worker
thread: create a cursor, execute, fetch the rows (SELECT), close the cursor. Each call is a
queue put, a thread wake-up, a `call_soon_threadsafe` back and a fight for the GIL with the
event loop: ~50 µs of CPU each, and about ten per update of scenario A (bench/README.md).
Here the whole statement — cursor, execute, rows, close — is one function run in that thread.
The results are the same objects SQLAlchemy's adapter fills in (description, rows, rowcount,
lastrowid); server-side cursors (`stream_results`) keep the adapter's own behaviour.

`install(dbapi_connection)` is called from the engine's "connect" event: it switches that one
connection to the one-hop cursor; other engines in the process are not touched.
"""

from __future__ import annotations

import sqlite3
from collections import deque
from typing import Any

from sqlalchemy.dialects.sqlite.aiosqlite import (
    AsyncAdapt_aiosqlite_connection,
    AsyncAdapt_aiosqlite_cursor,
)


def _run(raw: Any, operation: Any, parameters: Any, many: bool) -> tuple[Any, Any, int, int]:
    """In aiosqlite's thread: the statement start to finish on the sqlite3 connection."""
    cursor = raw.cursor()
    try:
        if many:
            cursor.executemany(operation, parameters)
        elif parameters is None:
            cursor.execute(operation)
        else:
            cursor.execute(operation, parameters)
        if cursor.description:
            return cursor.description, cursor.fetchall(), -1, -1
        return None, None, cursor.lastrowid, cursor.rowcount
    finally:
        cursor.close()


class OneHopCursor(AsyncAdapt_aiosqlite_cursor):
    __slots__ = ()

    def _one_hop(self, operation: Any, parameters: Any, many: bool) -> None:
        connection = self._connection  # aiosqlite.Connection
        try:
            description, rows, lastrowid, rowcount = self.await_(
                connection._execute(_run, connection._conn, operation, parameters, many)
            )
        except Exception as error:
            self._adapt_connection._handle_exception(error)
        self.description = description
        self.lastrowid, self.rowcount = lastrowid, rowcount
        self._rows = deque(rows) if rows is not None else deque()

    def execute(self, operation: Any, parameters: Any = None) -> Any:
        self._one_hop(operation, parameters, False)

    def executemany(self, operation: Any, seq_of_parameters: Any) -> Any:
        self._one_hop(operation, seq_of_parameters, True)


class OneHopConnection(AsyncAdapt_aiosqlite_connection):
    __slots__ = ()

    def cursor(self, server_side: bool = False) -> AsyncAdapt_aiosqlite_cursor:
        if server_side:
            return super().cursor(server_side=True)
        return OneHopCursor(self)


def install(dbapi_connection: Any) -> None:
    """Make this aiosqlite connection (SQLAlchemy's adapter) run statements in one hop."""
    if type(dbapi_connection) is AsyncAdapt_aiosqlite_connection:
        dbapi_connection.__class__ = OneHopConnection


class InLoopCursor(OneHopCursor):
    """Statements run right here, in the event loop's thread (see `install_in_loop`)."""

    __slots__ = ()

    def _one_hop(self, operation: Any, parameters: Any, many: bool) -> None:
        raw = self._connection._conn
        try:
            try:
                # Awaited, though it never suspends: SQLAlchemy's AsyncConnection.execute insists
                # that a statement awaited something (AwaitRequired otherwise).
                description, rows, lastrowid, rowcount = self.await_(
                    _at_once(_run, raw, operation, parameters, many)
                )
            except sqlite3.OperationalError as error:
                if error.sqlite_errorcode != sqlite3.SQLITE_BUSY or not _is_begin(operation):
                    raise
                # Another process holds the write lock: wait for it in aiosqlite's thread.
                connection = self._connection
                description, rows, lastrowid, rowcount = self.await_(
                    connection._execute(_begin_waiting, raw, operation, parameters)
                )
        except Exception as error:
            self._adapt_connection._handle_exception(error)
        self.description = description
        self.lastrowid, self.rowcount = lastrowid, rowcount
        self._rows = deque(rows) if rows is not None else deque()


async def _at_once(function: Any, *args: Any) -> Any:
    return function(*args)


def _is_begin(operation: str) -> bool:
    return operation.lstrip()[:5].upper() == "BEGIN"


def _begin_waiting(raw: Any, operation: Any, parameters: Any) -> tuple[Any, Any, int, int]:
    """In aiosqlite's thread: BEGIN, waiting up to BUSY_TIMEOUT_MS for the lock."""
    raw.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
    try:
        return _run(raw, operation, parameters, False)
    finally:
        raw.execute("PRAGMA busy_timeout=0")


class InLoopConnection(AsyncAdapt_aiosqlite_connection):
    __slots__ = ()

    def cursor(self, server_side: bool = False) -> AsyncAdapt_aiosqlite_cursor:
        if server_side:
            return super().cursor(server_side=True)
        return InLoopCursor(self)

    def commit(self) -> None:
        try:
            self._connection._conn.commit()
        except Exception as error:
            self._handle_exception(error)

    def rollback(self) -> None:
        try:
            self._connection._conn.rollback()
        except Exception as error:
            self._handle_exception(error)


BUSY_TIMEOUT_MS = 10_000


def install_in_loop(dbapi_connection: Any) -> None:
    """Run this aiosqlite connection's statements, commits and rollbacks in the calling thread.

    For a connection used by one task at a time whose every transaction starts with
    `BEGIN IMMEDIATE` (the linking backend, services/linking/db.py): once BEGIN has the write
    lock, SQLite in WAL mode makes nothing in the transaction wait for another connection, so a
    statement is microseconds of work that a trip to aiosqlite's thread (queue, wake-up,
    `call_soon_threadsafe`, a fight for the GIL) only makes dearer. The one statement that may
    wait is BEGIN, on another process's write lock: the connection's busy timeout is 0, so it
    fails at once here and is then retried in aiosqlite's thread with a busy timeout of
    BUSY_TIMEOUT_MS — the event loop never sleeps in SQLite's busy handler. The sqlite3
    connection must be opened with `check_same_thread=False`.
    """
    # Also after `install` (its PRAGMAs then went in one hop each).
    if type(dbapi_connection) in (AsyncAdapt_aiosqlite_connection, OneHopConnection):
        dbapi_connection.__class__ = OneHopConnection
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA busy_timeout=0")
        cursor.close()
        dbapi_connection.__class__ = InLoopConnection
