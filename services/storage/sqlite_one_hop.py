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
