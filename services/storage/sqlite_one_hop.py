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

Cheaper still is no trip at all: `install_in_loop` (the linking backend, whose every transaction
starts with `BEGIN IMMEDIATE`) and `install_loop_first` (the bot's database) run statements in
the event loop's thread with a busy timeout of 0, and only what meets another connection's lock
waits for it in aiosqlite's thread. `off_the_loop()` sends the statements of a block (big reads,
sweeps over many rows) to aiosqlite's thread instead.
"""

from __future__ import annotations

import logging
import sqlite3
from collections import deque
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import AbstractContextManager, contextmanager, nullcontext
from contextvars import ContextVar
from pathlib import Path
from typing import Any, cast

from sqlalchemy.dialects.sqlite.aiosqlite import (
    AsyncAdapt_aiosqlite_connection,
    AsyncAdapt_aiosqlite_cursor,
)
from sqlalchemy.util.concurrency import in_greenlet

logger = logging.getLogger(__name__)


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
                if in_greenlet():
                    # Awaited, though it never suspends: SQLAlchemy's AsyncConnection.execute
                    # insists that a statement awaited something (AwaitRequired otherwise).
                    description, rows, lastrowid, rowcount = self.await_(
                        _at_once(_run, raw, operation, parameters, many)
                    )
                else:  # called without a greenlet (services/linking/db.py, InLoopSession)
                    description, rows, lastrowid, rowcount = _run(raw, operation, parameters, many)
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
        raw = self._connection._conn
        try:
            raw.commit()
        except Exception as error:
            self._handle_exception(error)
        self._count_commit(raw)

    def rollback(self) -> None:
        raw = self._connection._conn
        try:
            raw.rollback()
        except Exception as error:
            self._handle_exception(error)
        # What the transaction changed is gone: the next commit counts only its own changes.
        self._connection.in_loop_changes = raw.total_changes

    def _count_commit(self, raw: sqlite3.Connection) -> None:
        """A commit that wrote rows counts towards the database file's next WAL checkpoint.

        SQLite's automatic checkpoint (at 1,000 WAL pages) would run inside the commit that
        crosses it, in the event loop's thread: a copy of the pages and an fsync, 15–43 ms on
        this machine (bench/README.md, stop 18). It is off on these connections
        (`install_in_loop`); every CHECKPOINT_EVERY writing commits to a file a PASSIVE
        checkpoint runs in a thread of its own on a connection of its own (`_checkpoint_file`),
        nobody waiting for it: writers go on appending to the WAL meanwhile, and the next write
        after it starts the WAL over from its beginning, so it stays as small as before.
        """
        connection = self._connection
        changes = raw.total_changes
        if changes == connection.__dict__.get("in_loop_changes", 0):
            return  # a read: nothing went to the WAL
        connection.in_loop_changes = changes
        path = connection.__dict__.get("in_loop_path")
        if path:
            _count_writing_commit(path)


BUSY_TIMEOUT_MS = 10_000

# --- The backend's WAL checkpoints (`install_in_loop`): beside the loop, nobody waiting ---

_CHECKPOINTS = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sqlite-checkpoint")
_WRITING_COMMITS: dict[str, int] = {}  # per database file, since its last checkpoint
_PENDING_CHECKPOINTS: dict[str, Future[None]] = {}


def _count_writing_commit(path: str) -> None:
    commits = _WRITING_COMMITS.get(path, 0) + 1
    if commits < CHECKPOINT_EVERY:
        _WRITING_COMMITS[path] = commits
        return
    _WRITING_COMMITS[path] = 0
    pending = _PENDING_CHECKPOINTS.get(path)
    if pending is not None and not pending.done():
        return  # the one still running will do
    _PENDING_CHECKPOINTS[path] = _CHECKPOINTS.submit(_checkpoint_file, path)


def pending_checkpoint(path: str) -> Future[None] | None:
    """The checkpoint of this database file last started (done or not), if any."""
    return _PENDING_CHECKPOINTS.get(path)


def _checkpoint_file(path: str) -> None:
    """In the checkpoint thread: copy the WAL into the database as far as no reader needs it.

    On a connection of its own (the loop's connections go on meanwhile; one sqlite3 connection
    used by two threads at once would make the loop wait for it), opened read-write without
    creating anything (a database removed meanwhile is left alone), closed afterwards. PASSIVE
    never waits for another connection's lock; a checkpoint that fails is left to the next.
    """
    try:
        raw = sqlite3.connect(
            f"{Path(path).absolute().as_uri()}?mode=rw", uri=True, isolation_level=None
        )
    except sqlite3.Error:
        logger.debug("WAL checkpoint: %s is gone", path, exc_info=True)
        return
    try:
        _checkpoint(raw)
    except sqlite3.Error:
        logger.debug("WAL checkpoint left to the next one", exc_info=True)
    finally:
        raw.close()


def install_in_loop(dbapi_connection: Any) -> None:
    """Run this aiosqlite connection's statements, commits and rollbacks in the calling thread.

    For a connection used by one task at a time whose every transaction starts with
    `BEGIN IMMEDIATE` (the linking backend, services/linking/db.py): once BEGIN has the write
    lock, SQLite in WAL mode makes nothing in the transaction wait for another connection, so a
    statement is microseconds of work that a trip to aiosqlite's thread (queue, wake-up,
    `call_soon_threadsafe`, a fight for the GIL) only makes dearer. The one statement that may
    wait is BEGIN, on another process's write lock: the connection's busy timeout is 0, so it
    fails at once here and is then retried in aiosqlite's thread with a busy timeout of
    BUSY_TIMEOUT_MS — the event loop never sleeps in SQLite's busy handler. SQLite's automatic
    WAL checkpoint is off: it would run in the loop inside a commit; one runs beside it
    instead (`InLoopConnection._count_commit`). The sqlite3 connection must be opened with
    `check_same_thread=False`.
    """
    # Also after `install` (its PRAGMAs then went in one hop each).
    if type(dbapi_connection) in (AsyncAdapt_aiosqlite_connection, OneHopConnection):
        dbapi_connection.__class__ = OneHopConnection
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA busy_timeout=0")
        cursor.execute("PRAGMA wal_autocheckpoint=0")  # `InLoopConnection._count_commit`
        cursor.execute("PRAGMA database_list")
        files = {name: file for _seq, name, file in cursor.fetchall()}
        cursor.close()
        connection = dbapi_connection._connection  # aiosqlite's
        connection.in_loop_path = files.get("main") or None  # None: in memory, no WAL
        connection.in_loop_changes = connection._conn.total_changes
        dbapi_connection.__class__ = InLoopConnection


# --- The bot's database: every statement in the loop first (`install_loop_first`) ---

_OFF_LOOP: ContextVar[bool] = ContextVar("sqlite_off_the_loop", default=False)


@contextmanager
def off_the_loop() -> Iterator[None]:
    """Statements, commits and rollbacks issued inside run in aiosqlite's thread.

    For work that may take long on the bot's database (`install_loop_first`): reports that
    aggregate many rows, retention sweeps. The event loop goes on meanwhile, as it did before
    statements ran in it. Tasks created inside inherit it (a context variable). No effect on
    other connections (PostgreSQL, the one-hop cursor).
    """
    token = _OFF_LOOP.set(True)
    try:
        yield
    finally:
        _OFF_LOOP.reset(token)


# An FSM batch (one executemany and a commit) of this many rows or more is written in aiosqlite's
# thread: in the open loop its statement and commit (which may checkpoint the WAL) held the loop
# 10-65 ms at a time (bench/README.md, "Stop 18: where the tail comes from"). Not for batches
# of many statements (the write-behind's ORM ops): each statement's hop waits for the GIL the
# busy loop holds, and the batch, with the shared write lock, would last longer.
BIG_BATCH_ROWS = 8


def off_the_loop_if_big(rows: int) -> AbstractContextManager[None]:
    """`off_the_loop()` for a batch of at least `BIG_BATCH_ROWS` rows, else nothing."""
    return off_the_loop() if rows >= BIG_BATCH_ROWS else nullcontext()


def _busy(error: Exception) -> bool:
    """SQLITE_BUSY in any of its variants: another connection holds a lock we need."""
    return (
        isinstance(error, sqlite3.OperationalError)
        and error.sqlite_errorcode & 0xFF == sqlite3.SQLITE_BUSY
    )


def _waiting(busy_timeout_ms: int, function: Any, raw: Any, *args: Any) -> Any:
    """In aiosqlite's thread: `function(raw, *args)` waiting up to the busy timeout for locks."""
    raw.execute(f"PRAGMA busy_timeout={busy_timeout_ms}")
    try:
        return function(raw, *args)
    finally:
        raw.execute("PRAGMA busy_timeout=0")


def _commit(raw: Any) -> None:
    raw.commit()


def _rollback(raw: Any) -> None:
    raw.rollback()


CHECKPOINT_EVERY = 100  # writing commits of one connection between two checkpoints of the WAL


def _checkpoint(raw: Any) -> None:
    """In aiosqlite's thread: copy the WAL into the database as far as no reader needs it."""
    raw.execute("PRAGMA wal_checkpoint(PASSIVE)").close()


class LoopFirstCursor(OneHopCursor):
    """A statement runs in the event loop's thread; if it meets a lock, in aiosqlite's thread.

    The connection's busy timeout is 0, so a statement that needs a lock another connection
    holds (a write while another process or pooled connection writes) fails at once with
    SQLITE_BUSY, having changed nothing; it is then run again in aiosqlite's thread with the
    engine's busy timeout — what every statement did before. Inside `off_the_loop()` statements
    go to the thread straight away.
    """

    __slots__ = ()

    def _one_hop(self, operation: Any, parameters: Any, many: bool) -> None:
        connection = self._connection
        raw = connection._conn
        adapt = cast("LoopFirstConnection", self._adapt_connection)
        waiting = (_waiting, adapt.busy_timeout_ms, _run, raw, operation, parameters, many)
        try:
            if _OFF_LOOP.get():
                result = self.await_(connection._execute(*waiting))
            else:
                changes = raw.total_changes
                try:
                    # Awaited, though it never suspends: SQLAlchemy's AsyncConnection.execute
                    # insists that a statement awaited something (AwaitRequired otherwise).
                    result = self.await_(_at_once(_run, raw, operation, parameters, many))
                except sqlite3.OperationalError as error:
                    # An executemany that wrote rows before it met the lock is not run again.
                    wrote = raw.total_changes != changes
                    if not _busy(error) or not adapt.busy_timeout_ms or wrote:
                        raise
                    result = self.await_(connection._execute(*waiting))
        except Exception as error:
            adapt._handle_exception(error)
        description, rows, lastrowid, rowcount = result
        self.description = description
        self.lastrowid, self.rowcount = lastrowid, rowcount
        self._rows = deque(rows) if rows is not None else deque()


class LoopFirstConnection(AsyncAdapt_aiosqlite_connection):
    """The bot's SQLite connection: statements, commits and rollbacks as `LoopFirstCursor`."""

    __slots__ = ()
    busy_timeout_ms = 0  # how long a statement that met a lock waits in the thread (per engine)

    def cursor(self, server_side: bool = False) -> AsyncAdapt_aiosqlite_cursor:
        if server_side:
            return super().cursor(server_side=True)
        return LoopFirstCursor(self)

    def _end(self, function: Any) -> None:
        connection = self._connection
        raw = connection._conn
        wrote = function is _commit and raw.in_transaction
        try:
            if _OFF_LOOP.get():
                self.await_(connection._execute(_waiting, self.busy_timeout_ms, function, raw))
            else:
                try:
                    function(raw)
                except sqlite3.OperationalError as error:
                    if not _busy(error) or not self.busy_timeout_ms:
                        raise
                    self.await_(connection._execute(_waiting, self.busy_timeout_ms, function, raw))
        except Exception as error:
            self._handle_exception(error)
        if wrote:
            self._count_commit()

    def _count_commit(self) -> None:
        """Every CHECKPOINT_EVERY writing commits, checkpoint the WAL in aiosqlite's thread.

        SQLite's own automatic checkpoint (at 1,000 pages) would run inside the commit that
        crosses it — here, in the event loop's thread: a copy of the pages and an fsync, 15–43
        ms on this machine (bench/README.md, stop 18). It is off on these connections; this one
        runs beside the loop instead, the committing caller waiting for it. A checkpoint that
        fails (another one running) is left to the next.
        """
        connection = self._connection
        commits = connection.__dict__.get("loop_first_commits", 0) + 1
        if commits < CHECKPOINT_EVERY:
            connection.loop_first_commits = commits
            return
        connection.loop_first_commits = 0
        try:
            self.await_(connection._execute(_checkpoint, connection._conn))
        except Exception:
            logger.debug("WAL checkpoint left to the next one", exc_info=True)

    def commit(self) -> None:
        self._end(_commit)

    def rollback(self) -> None:
        self._end(_rollback)


_LOOP_FIRST_CLASSES: dict[int, type[LoopFirstConnection]] = {}


def install_loop_first(dbapi_connection: Any, busy_timeout_ms: int) -> None:
    """Run this aiosqlite connection's statements in the event loop's thread first.

    For the bot's database, used by many tasks over a pool and by other processes (the
    migration command, other replicas' lease, a killed replica's successor). In WAL mode a
    reader never waits for a writer and a writer waits only for another writer, so most
    statements are microseconds of work that a trip to aiosqlite's thread only makes dearer.
    The connection's busy timeout becomes 0: a statement that meets a lock fails at once and
    waits for it in aiosqlite's thread instead, up to `busy_timeout_ms` (`LoopFirstCursor`) —
    the event loop never sleeps in SQLite's busy handler. Commits and rollbacks likewise.
    Durability is SQLite's, unchanged: the same statements and commits on the same connection.
    The sqlite3 connection must be opened with `check_same_thread=False`.
    """
    if type(dbapi_connection) in (AsyncAdapt_aiosqlite_connection, OneHopConnection):
        dbapi_connection.__class__ = OneHopConnection
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA busy_timeout=0")
        cursor.execute("PRAGMA wal_autocheckpoint=0")  # `LoopFirstConnection._count_commit`
        cursor.close()
        kind = _LOOP_FIRST_CLASSES.get(busy_timeout_ms)
        if kind is None:
            kind = _LOOP_FIRST_CLASSES[busy_timeout_ms] = type(
                f"LoopFirstConnection{busy_timeout_ms}ms",
                (LoopFirstConnection,),
                {"__slots__": (), "busy_timeout_ms": busy_timeout_ms},
            )
        dbapi_connection.__class__ = kind
