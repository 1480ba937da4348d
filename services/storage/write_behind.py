"""Write-behind for the bot's side writes (link sessions, analytics, transcript): group commit.

Every update used to pay a few short transactions of its own for these rows. Here callers
`submit()` an operation and go on at once; one background task commits everything submitted
since its previous batch in ONE transaction, while whatever arrives during that commit waits for
the next one (the same group commit as `SQLStorage`'s writer, services/storage/fsm.py).

Operations are either a function taking the batch's `AsyncSession` or a Core statement with its
parameters. Consecutive submissions of the same statement object run as one `executemany`.
Operations run in submission order; an operation given `once_per_batch=key` runs at the end of its
batch, once per key however often it was submitted (e.g. trimming a teacher's transcript once
after all her new lines).

Readers call `flush()` first: it returns when everything submitted before it is committed.

Failures. If a batch's transaction fails, it is rolled back and its operations are replayed one
transaction each, so one bad operation cannot take the others down with it. An operation that
fails on its own is logged (ERROR, with its label and the exception) and dropped: not retried,
since a failure that survives the replay is either in the operation itself (a constraint, a bug:
it would fail forever) or the database is down, and then holding the writes in memory would stall
the bot for rows that are only context for the helpdesk and analytics. `failed` counts them.
Operations must therefore be safe to re-run after a rollback: no side effects outside the session.

Memory is bounded: when `max_pending` operations wait for a batch, `submit()` waits until the
writer takes them (back-pressure); nothing is ever dropped for lack of room.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Hashable, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.sql import Executable

from services.storage.fsm_batching import consume_exception

logger = logging.getLogger(__name__)

DEFAULT_MAX_PENDING = 10_000

SessionOp = Callable[[AsyncSession], Awaitable[Any]]


@dataclass(slots=True)
class _Op:
    """One submitted write: a function of the session, or a statement with its parameters."""

    function: SessionOp | None
    statement: Executable | None
    params: Mapping[str, Any] | None
    label: str


class WriteBehind:
    """Batches writes to one database: many `submit()`s, one transaction per batch."""

    def __init__(
        self,
        session_factory: async_sessionmaker,
        *,
        max_pending: int = DEFAULT_MAX_PENDING,
        name: str = "bot-db",
    ) -> None:
        """Writer over `session_factory`; `max_pending` bounds the operations waiting."""
        if max_pending < 1:
            raise ValueError("max_pending must be >= 1")
        self._sessions = session_factory
        self._max_pending = max_pending
        self._name = name
        self._pending: list[_Op] = []
        self._at_end: dict[Hashable, _Op] = {}
        self._next_batch: asyncio.Future[None] | None = None  # done when pending ops are
        self._in_flight: asyncio.Future[None] | None = None  # done when the running batch is
        self._taken: asyncio.Event = asyncio.Event()  # set whenever a batch takes the queue
        self._task: asyncio.Task[None] | None = None
        self._closed = False
        self.batches = 0  # committed batches (for tests and benchmarks)
        self.failed = 0  # operations dropped after failing on their own

    @property
    def pending(self) -> int:
        """Operations submitted and not yet taken by a batch."""
        return len(self._pending) + len(self._at_end)

    async def submit(
        self,
        op: SessionOp | Executable,
        params: Mapping[str, Any] | None = None,
        *,
        once_per_batch: Hashable | None = None,
        label: str | None = None,
    ) -> None:
        """Queue a write; returns at once unless `max_pending` writes already wait.

        `op` is `async def op(session)` or a Core statement run with `params`. With
        `once_per_batch`, the op runs after the batch's other ops, once per key. `label` names it
        in the log if it fails (never put secrets in it).
        """
        if self._closed:
            raise RuntimeError(f"write-behind {self._name} is closed")
        while self.pending >= self._max_pending:
            self._taken.clear()
            await self._taken.wait()
            if self._closed:
                raise RuntimeError(f"write-behind {self._name} is closed")
        if isinstance(op, Executable):
            item = _Op(None, op, params, label or _describe_statement(op))
        else:
            item = _Op(op, None, None, label or getattr(op, "__qualname__", repr(op)))
        if once_per_batch is None:
            self._pending.append(item)
        else:
            self._at_end.pop(once_per_batch, None)  # re-added last: after every op before it
            self._at_end[once_per_batch] = item
        if self._next_batch is None:
            self._next_batch = asyncio.get_running_loop().create_future()
            self._next_batch.add_done_callback(consume_exception)
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name=f"write-behind {self._name}")

    async def flush(self) -> None:
        """Return when every write submitted so far is committed (or logged as failed)."""
        if self._next_batch is not None:
            waiting = self._next_batch
        elif self._in_flight is not None:
            waiting = self._in_flight
        else:
            return
        # Shielded: the batch is shared, cancelling one reader must not cancel it.
        await asyncio.shield(waiting)

    async def close(self) -> None:
        """Commit what is pending, then refuse new writes."""
        try:
            await self.flush()
        finally:
            self._closed = True
            self._taken.set()  # submitters blocked on back-pressure get the error

    async def _run(self) -> None:
        try:
            while self._next_batch is not None:
                # One loop turn lets every update finishing right now join this batch.
                await asyncio.sleep(0)
                batch_done, self._next_batch = self._next_batch, None
                ops = [*self._pending, *self._at_end.values()]
                self._pending, self._at_end = [], {}
                self._in_flight = batch_done
                self._taken.set()
                try:
                    await self._write(ops)
                except BaseException:  # cancelled (the loop is shutting down)
                    batch_done.cancel()
                    raise
                finally:
                    self._in_flight = None
                batch_done.set_result(None)
        except BaseException:
            if self._next_batch is not None:  # its waiters must not hang
                self._next_batch.cancel()
                self._next_batch = None
            raise
        finally:
            self._task = None

    async def _write(self, ops: list[_Op]) -> None:
        try:
            await self._commit(ops)
        except Exception:
            if len(ops) == 1:
                self._drop(ops[0])
                return
            logger.warning(
                "write-behind %s: a batch of %d writes failed; replaying them one by one",
                self._name,
                len(ops),
                exc_info=True,
            )
            for op in ops:
                try:
                    await self._commit([op])
                except Exception:
                    self._drop(op)
        self.batches += 1

    def _drop(self, op: _Op) -> None:
        self.failed += 1
        logger.error(
            "write-behind %s: write dropped after failing on its own: %s",
            self._name,
            op.label,
            exc_info=True,
        )

    async def _commit(self, ops: list[_Op]) -> None:
        async with self._sessions() as session, session.begin():
            index = 0
            while index < len(ops):
                op = ops[index]
                if op.function is not None:
                    await op.function(session)
                    await session.flush()  # so that the statements after it see its rows
                    index += 1
                    continue
                # A run of the same statement: one executemany.
                end = index + 1
                while end < len(ops) and ops[end].statement is op.statement:
                    end += 1
                params = [dict(o.params or {}) for o in ops[index:end]]
                connection = await session.connection()
                await connection.execute(op.statement, params if len(params) > 1 else params[0])
                if session.identity_map:
                    session.expire_all()  # the statement may have changed loaded objects
                index = end


def _describe_statement(statement: Executable) -> str:
    table = getattr(statement, "table", None)
    kind = type(statement).__name__
    return f"{kind} on {table.name}" if table is not None else kind


class WritesBehind:
    """Base for a store whose writes go through a WriteBehind: its own, or one shared with other
    stores of the same database (then one transaction serves them all)."""

    def _use_writer(
        self, session_factory: async_sessionmaker, writer: WriteBehind | None, name: str
    ) -> None:
        self._owns_writer = writer is None
        self.writer = writer or WriteBehind(session_factory, name=name)

    async def flush(self) -> None:
        """Return when every write made so far is committed."""
        await self.writer.flush()

    async def close(self) -> None:
        """Commit pending writes (and stop the writer if this store owns it)."""
        if self._owns_writer:
            await self.writer.close()
        else:
            await self.writer.flush()
