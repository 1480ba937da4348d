"""A database connection kept open by one writer or reader for its whole life.

The FSM storage's reader and writer and the write-behind each hold one: no pool checkout and
check-in (with its reset) per transaction, and no close — which SQLAlchemy's async context
managers run in a task of their own, two event-loop turns that a busy loop makes 10-30 ms long
(bench/README.md, stop 20).
"""

from __future__ import annotations

import asyncio
import contextlib

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine


class HeldConnection:
    """A connection kept open for its owner's lifetime, used by one task at a time (`lock`).

    A broken connection (server restart, network) is dropped and reopened on the next use.
    """

    def __init__(self, engine: AsyncEngine, *, autocommit: bool) -> None:
        self._engine = engine
        self._autocommit = autocommit
        self._connection: AsyncConnection | None = None
        self.lock = asyncio.Lock()

    async def get(self) -> AsyncConnection:
        if self._connection is None:
            connection = await self._engine.connect()
            if self._autocommit:
                # Reads need no transaction; on PostgreSQL this keeps the session out of
                # "idle in transaction" between reads.
                connection = await connection.execution_options(isolation_level="AUTOCOMMIT")
            self._connection = connection
        return self._connection

    async def drop(self) -> None:
        """Forget the connection (its state is unknown): the next `get` opens a fresh one."""
        connection, self._connection = self._connection, None
        if connection is not None:
            with contextlib.suppress(Exception):
                await connection.invalidate()
            with contextlib.suppress(Exception):
                await connection.close()

    async def close(self) -> None:
        async with self.lock:
            connection, self._connection = self._connection, None
            if connection is not None:
                await connection.close()
