"""Write-behind for the bot's side writes (link sessions, analytics, transcript): group commit.

Every update used to pay a few short transactions of its own for these rows. Here callers
`submit()` an operation and go on at once; one background task commits everything submitted
since its previous batch in ONE transaction, while whatever arrives during that commit waits for
the next one (the group commit of services/storage/group_commit.py, as `SQLStorage`'s writer).

Operations are either a function taking the batch's `AsyncConnection` (Core statements, no ORM
unit of work) or a Core statement with its parameters. Every batch runs on one connection the
writer holds for its life (services/storage/held_connection.py): no session, no pool checkout,
no close per batch. Operations run in submission order; an operation given
`once_per_batch=key` runs at the end of its batch, once per key however often it was submitted
(e.g. trimming a teacher's transcript once after all her new lines).

Submissions of the same statement object run as one `executemany` — one round trip instead of one
per row (on aiosqlite a single statement costs ~180 µs of CPU, a row of an executemany ~7 µs). A
run of consecutive ones always does; with `order_key` (the teacher) a statement may also join an
earlier run of itself across other teachers' operations, since its caller promises that it reads
and writes only rows of that key: operations of one key, and operations without a key, keep
their submission order relative to everything.

Readers call `flush()` first: it returns when everything submitted before it is committed.
A write that must not be lost with the process (the teacher's language, the start of her link
session) is submitted with `wait=True`: the call returns once its row is committed, or raises
`WriteDelayed` after `write_through_timeout` (the write stays queued and still lands) so the
update fails visibly instead of pretending.

Write-through goes first. A teacher waits for it (`/start` replies only once her record is
committed), so a `wait=True` op with an `order_key` does not wait for the queue: the writer's
next transaction is that op alone, together with the earlier ops of its key still uncommitted
(which it never overtakes), ahead of everything else queued — unless a keyless op queued before
it stands in the way (nothing overtakes a keyless op), then it keeps its place. And a batch is
committed in transactions of at most `max_batch_groups` round trips (executemanys and function
ops, in `_plan`'s order), so a write-through op waits for one such transaction at most, never
for a whole backlog: between two of them the writer looks for write-through ops again.

Failures. Nothing is dropped because the database is busy or away. A failure that passes by
itself (services/storage/transient.py: a locked SQLite file, a lost connection, a failover) keeps
the whole batch and retries it with exponential backoff, for as long as it takes; `retries`
counts the attempts and `on_retry` lets a metric or a health check see them. Meanwhile new
submissions queue up behind it (bounded, see below). A failure that would repeat forever (a
constraint, a bug in the operation) rolls the batch back and replays its operations one
transaction each, so one bad operation cannot take the others down with it: the one that fails
on its own is logged (ERROR, with its label and the exception), counted in `failed` and dropped,
and a caller waiting for it gets `WriteFailed`. Operations must therefore be safe to re-run after
a rollback: no side effects outside the transaction. A failed or cancelled transaction drops the
held connection (its state is unknown); the next one opens a fresh one.

Memory is bounded: when `max_pending` operations wait for a batch, `submit()` waits until the
writer takes them (back-pressure) — the bound holds however long the database is away, and
nothing is ever dropped for lack of room. `close()` commits what is queued; only when the database
stays away past `close_timeout` does it give up, logging every write it could not commit.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from bisect import bisect_left
from collections.abc import Awaitable, Callable, Hashable, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, async_sessionmaker
from sqlalchemy.sql import Executable

from services.storage.db import sqlite_write_lock
from services.storage.group_commit import GroupCommit, consume_exception
from services.storage.held_connection import HeldConnection
from services.storage.transient import Backoff, is_transient

logger = logging.getLogger(__name__)

DEFAULT_MAX_PENDING = 10_000
DEFAULT_WRITE_THROUGH_TIMEOUT = 10.0
DEFAULT_CLOSE_TIMEOUT = 30.0
# Round trips (executemanys, function ops) per transaction: a backlog is committed in slices this
# long, and a write-through op waits for one slice at most (bench/README.md, stop 19).
DEFAULT_MAX_BATCH_GROUPS = 32


class WriteDelayed(Exception):
    """A write-through write is not committed yet (the database is away); it is still queued."""


class WriteFailed(Exception):
    """A write-through write failed on its own and was dropped (see the log)."""


ConnectionOp = Callable[[AsyncConnection], Awaitable[Any]]


@dataclass(slots=True)
class _Op:
    """One submitted write: a function of the session, or a statement with its parameters."""

    function: ConnectionOp | None
    statement: Executable | None
    params: Mapping[str, Any] | None
    label: str
    committed: asyncio.Future[None] | None = None  # for write-through callers
    order_key: Hashable | None = None  # touches only this key's rows (may move past others)
    first: bool = False  # write-through with a key: may go ahead of the queue


class _StillTransient(Exception):
    """The database is away: `remaining` ops (a suffix of the batch) are to be retried."""

    def __init__(self, remaining: list[_Op]) -> None:
        super().__init__()
        self.remaining = remaining


class WriteBehind:
    """Batches writes to one database: many `submit()`s, one transaction per batch."""

    def __init__(
        self,
        session_factory: async_sessionmaker,
        *,
        max_pending: int = DEFAULT_MAX_PENDING,
        name: str = "bot-db",
        backoff: Backoff | None = None,
        sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep,
        write_through_timeout: float = DEFAULT_WRITE_THROUGH_TIMEOUT,
        close_timeout: float = DEFAULT_CLOSE_TIMEOUT,
        on_retry: Callable[[BaseException], None] | None = None,
        max_batch_groups: int = DEFAULT_MAX_BATCH_GROUPS,
    ) -> None:
        """Writer on `session_factory`'s engine; `max_pending` bounds the operations waiting.

        `backoff` spaces the retries of a batch the database refused for a while (`sleep` is
        injectable for tests); `write_through_timeout` bounds a `wait=True` submission;
        `close_timeout` bounds how long `close()` keeps retrying; `on_retry` is called with the
        error before each retry (metrics, health); `max_batch_groups` bounds the round trips of
        one transaction (a bigger batch is committed in several, in order).
        """
        if max_pending < 1:
            raise ValueError("max_pending must be >= 1")
        if max_batch_groups < 1:
            raise ValueError("max_batch_groups must be >= 1")
        self._max_batch_groups = max_batch_groups
        engine: AsyncEngine = session_factory.kw["bind"]
        self._connection = HeldConnection(engine, autocommit=False)
        self._write_lock = sqlite_write_lock(engine)  # shared with FSM
        self._max_pending = max_pending
        self._name = name
        self._backoff = backoff or Backoff()
        self._sleep = sleep
        self._write_through_timeout = write_through_timeout
        self._close_timeout = close_timeout
        self._on_retry = on_retry
        self._pending: list[_Op] = []
        self._at_end: dict[Hashable, _Op] = {}
        self._batches = GroupCommit(self._run_batch, name=f"write-behind {name}")
        self._uncommitted: list[_Op] = []  # ops of the transaction in flight not committed yet
        self._rest: list[_Op] = []  # ops of the batch in flight after that transaction's
        self._write_through = 0  # write-through ops with a key, queued or in `_rest`
        self._taken: asyncio.Event = asyncio.Event()  # set whenever a batch takes the queue
        self._closed = False
        self._retrying = False
        self.batches = 0  # committed batches (for tests and benchmarks)
        self.failed = 0  # operations dropped after failing on their own
        self.retries = 0  # times a batch was retried because the database was away
        self.unwritten_at_close = 0  # operations given up on by close() (database still away)

    @property
    def retrying(self) -> bool:
        """True while a batch waits for the database to come back."""
        return self._retrying

    @property
    def pending(self) -> int:
        """Operations submitted and not yet taken by a batch."""
        return len(self._pending) + len(self._at_end)

    async def submit(
        self,
        op: ConnectionOp | Executable,
        params: Mapping[str, Any] | None = None,
        *,
        once_per_batch: Hashable | None = None,
        order_key: Hashable | None = None,
        label: str | None = None,
        wait: bool = False,
    ) -> None:
        """Queue a write; returns at once unless `max_pending` writes already wait.

        `op` is `async def op(connection)` or a Core statement run with `params`. With
        `once_per_batch`, the op runs after the batch's other ops, once per key. `order_key`
        promises the op reads and writes only rows of that key (a teacher): it keeps its order
        among that key's ops and the keyless ones, and may join an executemany of the same
        statement submitted earlier for other keys. `label` names it
        in the log if it fails (never put secrets in it). With `wait=True` (write-through) the
        call returns when the write is committed; it raises `WriteDelayed` if that takes longer
        than `write_through_timeout` (the write stays queued) and `WriteFailed` if the write
        failed on its own.
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
            item = _Op(op, None, None, label or str(getattr(op, "__qualname__", repr(op))))
        item.order_key = order_key
        if wait:
            item.committed = asyncio.get_running_loop().create_future()
            item.committed.add_done_callback(consume_exception)
            if order_key is not None and once_per_batch is None:
                item.first = True
                self._write_through += 1
        if once_per_batch is None:
            self._pending.append(item)
        else:
            self._at_end.pop(once_per_batch, None)  # re-added last: after every op before it
            self._at_end[once_per_batch] = item
        self._batches.schedule(at_once=item.first)
        if item.committed is not None:
            try:
                # Awaited directly (its only waiter): the caller wakes one loop turn after the
                # commit, not three as through shield and wait_for. Cancelling the caller
                # cancels only this future; the write stays queued and lands.
                async with asyncio.timeout(self._write_through_timeout):
                    await item.committed
            except TimeoutError:
                raise WriteDelayed(
                    f"write-behind {self._name}: {item.label} is not committed yet "
                    "(the database is not answering); it stays queued"
                ) from None

    async def flush(self, order_key: Hashable | None = None) -> None:
        """Return when every write submitted so far is committed (or logged as failed).

        With `order_key`, for a reader of that key's rows only: returns at once when no write
        of that key and no keyless write (it may touch anything) is uncommitted, else waits as
        a full flush does. A teacher's first update reads her language: it no longer waits for
        every other teacher's queued writes (bench/README.md, stop 19).
        """
        if order_key is not None and not self._holds(order_key):
            return
        # The batch due if any (it runs after the one in flight), else the one in flight; shared,
        # so cancelling one reader does not cancel it.
        await self._batches.settle()

    def _holds(self, order_key: Hashable) -> bool:
        """Whether a write of `order_key`, or a keyless one, is not committed yet."""
        for ops in (self._uncommitted, self._rest, self._pending, self._at_end.values()):
            for op in ops:
                if op.order_key is None or op.order_key == order_key:
                    return True
        return False

    async def close(self) -> None:
        """Commit what is pending, then refuse new writes.

        While the database is away this keeps retrying for up to `close_timeout` seconds; after
        that it stops and logs (ERROR) every write left uncommitted.
        """
        try:
            await asyncio.wait_for(self.flush(), self._close_timeout)
        except TimeoutError:
            await self._batches.cancel()  # stop retrying
            self._report_unwritten(
                [*self._uncommitted, *self._rest, *self._pending, *self._at_end.values()]
            )
        finally:
            self._closed = True
            self._taken.set()  # submitters blocked on back-pressure get the error
            with contextlib.suppress(Exception):  # a database still away: nothing to close
                await self._connection.close()

    async def _run_batch(self) -> None:
        """One batch of the group commit: everything submitted since the last.

        Committed in transactions of at most `max_batch_groups` round trips, in order; before
        each, the write-through ops queued so far (here or submitted meanwhile) go first.
        """
        self._rest = [*self._pending, *self._at_end.values()]
        self._pending, self._at_end = [], {}
        self._taken.set()
        try:
            while True:
                urgent = self._take_write_through()
                if urgent:
                    await self._write_until_done(urgent)
                    continue
                if not self._rest:
                    break
                # A plan has at most one group per op: a batch of few ops fits without one (the
                # commit plans it anyway; planning it here too was the hot path's double work).
                if len(self._rest) <= self._max_batch_groups or (
                    len(groups := _plan(self._rest)) <= self._max_batch_groups
                ):
                    chunk, self._rest = self._rest, []
                else:
                    taken = {id(op) for group in groups[: self._max_batch_groups] for op in group}
                    chunk = [op for op in self._rest if id(op) in taken]
                    self._rest = [op for op in self._rest if id(op) not in taken]
                self._write_through -= sum(op.first for op in chunk)
                await self._write_until_done(chunk)
        except BaseException:
            # Cancelled (close() gave up): what this batch did not reach is queued again.
            self._pending[:0] = self._rest
            self._rest = []
            raise

    def _take_write_through(self) -> list[_Op]:
        """Take the write-through ops that may go first, with the earlier ops of their keys.

        Looks at the batch in flight's uncommitted rest, then the queue, in submission order, up
        to the first keyless op (nothing moves past it). For each key with a write-through op
        there, that op and every op of the key before it leave their places, in order.
        """
        if not self._write_through:
            return []
        ops = [*self._rest, *self._pending]
        last_of_key: dict[Hashable, int] = {}  # key -> index of its last write-through op
        end = len(ops)
        for index, op in enumerate(ops):
            if op.order_key is None:
                end = index
                break
            if op.first:
                last_of_key[op.order_key] = index
        if not last_of_key:
            return []
        taken = [
            index
            for index, op in enumerate(ops[:end])
            if op.order_key in last_of_key and index <= last_of_key[op.order_key]
        ]
        urgent = [ops[index] for index in taken]
        self._write_through -= sum(op.first for op in urgent)
        chosen = {id(op) for op in urgent}
        self._rest = [op for op in self._rest if id(op) not in chosen]
        pending = len(self._pending)
        self._pending = [op for op in self._pending if id(op) not in chosen]
        if len(self._pending) != pending:
            self._taken.set()  # room in the queue: submitters held by back-pressure go on
        return urgent

    async def _write_until_done(self, ops: list[_Op]) -> None:
        """Commit `ops`; while the database is away, wait and retry what is not committed yet."""
        attempt = 0
        while ops:
            self._uncommitted = ops  # what close() reports if it gives up now
            try:
                await self._write(ops)
                ops = []
            except _StillTransient as away:
                ops = away.remaining
                attempt += 1
                self.retries += 1
                self._retrying = True
                delay = self._backoff.delay(attempt)
                cause = away.__cause__ or away
                # Loud once, then at every 10th attempt: a long outage must not flood the log.
                if attempt == 1 or attempt % 10 == 0:
                    logger.warning(
                        "write-behind %s: database unavailable (%s); %d writes kept, retry %d "
                        "in %.1fs",
                        self._name,
                        type(cause).__name__,
                        len(ops) + self.pending,
                        attempt,
                        delay,
                    )
                if self._on_retry is not None:
                    self._on_retry(cause)
                await self._sleep(delay)
        self._uncommitted = []
        if attempt:
            logger.info("write-behind %s: database back after %d retries", self._name, attempt)
        self._retrying = False
        self.batches += 1

    async def _write(self, ops: list[_Op]) -> None:
        try:
            await self._commit(ops)
        except Exception as error:
            if is_transient(error):
                raise _StillTransient(ops) from error
            if len(ops) == 1:
                self._drop(ops[0], error)
                return
            logger.warning(
                "write-behind %s: a batch of %d writes failed; replaying them one by one",
                self._name,
                len(ops),
                exc_info=True,
            )
            for index, op in enumerate(ops):
                try:
                    await self._commit([op])
                except Exception as own_error:
                    if is_transient(own_error):
                        raise _StillTransient(ops[index:]) from own_error
                    self._drop(op, own_error)
                else:
                    _resolve(op)
            return
        for op in ops:
            _resolve(op)

    def _drop(self, op: _Op, error: Exception) -> None:
        self.failed += 1
        logger.error(
            "write-behind %s: write dropped after failing on its own: %s",
            self._name,
            op.label,
            exc_info=error,
        )
        if op.committed is not None and not op.committed.done():
            op.committed.set_exception(WriteFailed(op.label))

    def _report_unwritten(self, ops: list[_Op]) -> None:
        if not ops:
            return
        self.unwritten_at_close += len(ops)
        logger.error(
            "write-behind %s: closed while the database was away; %d writes NOT committed: %s",
            self._name,
            len(ops),
            ", ".join(op.label for op in ops),
        )
        for op in ops:
            if op.committed is not None and not op.committed.done():
                op.committed.set_exception(WriteFailed(op.label))

    async def _commit(self, ops: list[_Op]) -> None:
        async with self._connection.lock:
            connection = await self._connection.get()
            try:
                # The SQLite write lock (shared with the FSM's writer) spans the transaction.
                async with self._write_lock, connection.begin():
                    for group in _plan(ops):
                        op = group[0]
                        if op.function is not None:
                            await op.function(connection)
                            continue
                        assert op.statement is not None  # an op is a function or a statement
                        params = [dict(o.params or {}) for o in group]
                        await connection.execute(
                            op.statement, params if len(params) > 1 else params[0]
                        )
            except BaseException:
                # Failed or cancelled mid-transaction: the connection's state is unknown.
                await self._connection.drop()
                raise


def _plan(ops: list[_Op]) -> list[list[_Op]]:
    """Groups to run in order: each a function op alone, or rows of one statement (executemany).

    A keyed op joins the EARLIEST group of its statement that comes after every group holding
    an op of its key and after the last keyless op (a barrier); else it opens a group. A keyless
    statement op joins only a run of consecutive ones. So the ops of one key, and keyless ops,
    run in submission order; others may run earlier. (Earliest, not latest: the updates of
    concurrent teachers interleave their statements — her line, her step, the bot's line — and
    joining only the latest group of a statement opened a new group at nearly every row.)
    """
    groups: list[list[_Op]] = []
    of_statement: dict[int, list[int]] = {}  # id(statement) -> indexes of its groups, ascending
    last_of_key: dict[Hashable, int] = {}
    barrier = -1
    for op in ops:
        if op.statement is not None:
            indexes = of_statement.setdefault(id(op.statement), [])
            index = -1
            if op.order_key is None:
                if indexes and indexes[-1] == len(groups) - 1:  # a plain run of consecutive ones
                    index = indexes[-1]
            else:
                position = bisect_left(indexes, max(barrier, last_of_key.get(op.order_key, -1)))
                if position < len(indexes):
                    index = indexes[position]
            if index >= 0:
                groups[index].append(op)
            else:
                groups.append([op])
                index = len(groups) - 1
                indexes.append(index)
        else:
            groups.append([op])
            index = len(groups) - 1
        if op.order_key is None:
            barrier = index
        else:
            last_of_key[op.order_key] = index
    return groups


def _resolve(op: _Op) -> None:
    if op.committed is not None and not op.committed.done():
        op.committed.set_result(None)


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
