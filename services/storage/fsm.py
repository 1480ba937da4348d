"""aiogram FSM storage on the bot's SQL database (SQLite or PostgreSQL), fast enough for dialogs.

aiogram-dialog makes about five storage calls per update; a session and a transaction per call
makes persisted dialogs ~20x slower than MemoryStorage. This storage instead:

* keeps every value it has read or written in a process-wide map (bounded LRU of clean entries),
  so reads are dictionary look-ups after the first load of a key; cache misses of concurrent
  updates are loaded together, one `SELECT … IN (…)` per event-loop turn;
* inside `scope()` (one per update, see bot/middlewares/storage_scope.py) buffers writes and
  flushes them once, at the end of the update, in one transaction: one row write per key per
  update however many times the handler wrote it;
* flushes with group commit: updates ending together (or while a transaction runs) share the
  next transaction, written by one background task (services/storage/group_commit.py);
* talks SQL through Core statements over long-lived connections (fsm_records.py);
* stamps each row with the time of its last write, so that `prune` can delete the records of
  dialogs abandoned for longer than the retention (bot/retention.py runs it).

Guarantees. Reads see the latest value written in this process (like MemoryStorage), including
writes of other updates whose flush is still pending — aiogram-dialog releases its per-chat lock
before our scope ends, so the next update of the chat must see the buffered stack. A write is
durable when the scope that made it has exited (or, outside a scope, when the call returns).
Concurrent writers of one key: last writer wins, never a torn value. A failed flush raises (or
is logged when the update itself failed) and keeps the values dirty; the next flush retries them.

The process-wide map is correct only while this storage instance is the only writer of its
table: one bot process (the default SQLite deployment, or one replica on PostgreSQL). Several
replicas must use RedisStorage. `cache_size=0` turns the map into a pure write buffer, reads
then go to the database once per key per update (the per-update cache) and other processes'
writes are seen from the next update on.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable, Mapping, Sequence
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import UTC, datetime
from types import TracebackType
from typing import Any

from aiogram.exceptions import DataNotDictLikeError
from aiogram.fsm.state import State
from aiogram.fsm.storage.base import BaseStorage, DefaultKeyBuilder, KeyBuilder, StateType
from aiogram.fsm.storage.base import StorageKey as FsmKey
from sqlalchemy.ext.asyncio import AsyncEngine

from services.storage.fsm_batching import LoadBatcher
from services.storage.fsm_records import FsmRecord, FsmRecordsGateway
from services.storage.group_commit import GroupCommit

logger = logging.getLogger(__name__)

__all__ = ["FsmRecord", "SQLStorage"]

# Entries, not teachers: aiogram-dialog keeps about five keys per teacher, so ~2,000 teachers'
# dialogs stay in memory (bench/memory_bench.py: 10,000 teachers mid-dialog within 300 MB).
DEFAULT_CACHE_SIZE = 10_000

JsonDumps = Callable[[Any], str]
JsonLoads = Callable[[str], Any]


def _utcnow() -> datetime:
    return datetime.now(UTC)


def _compact_json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


@dataclass(slots=True)
class _Entry:
    """What this process knows of one row: its value (None = no row) and whether it is durable."""

    value: str | None
    version: int = 0
    dirty: bool = False


@dataclass(slots=True)
class _Load:
    """A read of one key in flight; a write meanwhile makes its result stale."""

    future: asyncio.Future[str | None]
    stale: bool = False


@dataclass(slots=True)
class _Scope:
    """One update's view: values loaded (or written) during it, and the keys it wrote."""

    cache: dict[str, str | None] = field(default_factory=dict)
    written: set[str] = field(default_factory=set)
    closed: bool = False


class _ScopeContext:
    """`async with storage.scope():` — buffers this task's writes until exit, then flushes."""

    __slots__ = ("_joined", "_scope", "_storage", "_token")

    def __init__(self, storage: SQLStorage) -> None:
        self._storage = storage
        self._joined = False

    async def __aenter__(self) -> None:
        outer = self._storage._scope_var.get()
        if outer is not None and not outer.closed:
            self._joined = True  # nested scope: the outer one flushes
            return
        self._scope = _Scope()
        self._token = self._storage._scope_var.set(self._scope)

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if not self._joined:
            self._storage._scope_var.reset(self._token)
            await self._storage._end_scope(self._scope, update_failed=exc is not None)


class SQLStorage(BaseStorage):
    """aiogram `BaseStorage` on SQLAlchemy async (SQLite via aiosqlite, PostgreSQL via asyncpg).

    `key_builder` must be `DefaultKeyBuilder(with_destiny=True)` (or similar) for aiogram-dialog.
    Use `scope()` around each update (StorageScopeMiddleware does) to buffer writes; outside a
    scope every write goes straight to the database.
    """

    def __init__(
        self,
        engine: AsyncEngine,
        key_builder: KeyBuilder | None = None,
        *,
        cache_size: int = DEFAULT_CACHE_SIZE,
        json_dumps: JsonDumps = _compact_json,
        json_loads: JsonLoads = json.loads,
        dispose_engine: bool = False,
        clock: Callable[[], datetime] = _utcnow,
    ) -> None:
        """Storage over `engine`, whose `fsm_records` table must exist (create_all or alembic).

        `cache_size` bounds the clean entries kept across updates (0: only per update);
        `dispose_engine` makes close() dispose the engine too; `clock` stamps the rows written.
        """
        if cache_size < 0:
            raise ValueError("cache_size must be >= 0")
        self.engine = engine
        self.key_builder = key_builder or DefaultKeyBuilder(with_destiny=True)
        self._cache_size = cache_size
        self._dumps = json_dumps
        self._loads_json = json_loads
        self._dispose_engine = dispose_engine
        self._gateway = FsmRecordsGateway(engine, clock=clock)
        self._entries: dict[str, _Entry] = {}
        self._loads: dict[str, _Load] = {}
        self._load_batcher = LoadBatcher(self._load_many)
        self._ready: set[str] = set()  # dirty keys whose scope has ended: the next batch's
        self._writer = GroupCommit(self._write_ready, name="fsm writer")
        self._scope_var: ContextVar[_Scope | None] = ContextVar(
            f"sql_storage_scope_{id(self)}", default=None
        )

    @classmethod
    def from_url(cls, database_url: str, **kwargs: Any) -> SQLStorage:
        """Storage with its own engine (WAL on SQLite), disposed by close()."""
        from services.storage.db import create_engine

        return cls(create_engine(database_url), dispose_engine=True, **kwargs)

    def scope(self) -> _ScopeContext:
        """Async context manager: within it reads are cached and writes flushed once at exit."""
        return _ScopeContext(self)

    # --- aiogram BaseStorage -------------------------------------------------------------

    async def set_state(self, key: FsmKey, state: StateType = None) -> None:
        value = state.state if isinstance(state, State) else state
        await self._write(self.key_builder.build(key, "state"), value)

    async def get_state(self, key: FsmKey) -> str | None:
        return await self._read(self.key_builder.build(key, "state"))

    async def set_data(self, key: FsmKey, data: Mapping[str, Any]) -> None:
        if not isinstance(data, dict):
            msg = f"Data must be a dict or dict-like object, got {type(data).__name__}"
            raise DataNotDictLikeError(msg)
        # Serialised now, not at flush: a value that is not JSON fails in the handler that
        # wrote it instead of poisoning a later batch, and the caller's dict may change freely.
        await self._write(self.key_builder.build(key, "data"), self._dumps(data) if data else None)

    async def get_data(self, key: FsmKey) -> dict[str, Any]:
        raw = await self._read(self.key_builder.build(key, "data"))
        return {} if raw is None else self._loads_json(raw)

    async def prune(self, before: datetime) -> int:
        """Delete the records last written before `before` (abandoned dialogs); how many.

        Pending writes are flushed first, so a record written since counts as fresh; the process
        cache forgets what was deleted (a write meanwhile stays dirty and is written again, a read
        in flight reads again). Safe to run while updates are handled.
        """
        await self.flush()
        keys = await self._gateway.prune(before)
        for key in keys:
            entry = self._entries.get(key)
            if entry is not None and not entry.dirty:
                del self._entries[key]
            load = self._loads.get(key)
            if load is not None:
                load.stale = True
        return len(keys)

    async def close(self) -> None:
        """Flush what is pending, then release the connections (and the engine if owned)."""
        try:
            await self.flush()
        finally:
            await self._gateway.close()
            if self._dispose_engine:
                await self.engine.dispose()

    # --- writes ----------------------------------------------------------------------------

    async def _end_scope(self, scope: _Scope, *, update_failed: bool) -> None:
        scope.closed = True  # tasks the update spawned now write through
        if not scope.written:
            return
        self._ready.update(scope.written)
        try:
            await self.flush()
        except Exception:
            if not update_failed:
                raise
            # Report the update's own error, log this one. The values stay dirty and the
            # next flush writes them.
            logger.exception("FSM flush failed after a failed update; will retry")

    async def flush(self) -> None:
        """Make every write whose scope has ended durable; return when it is (group commit).

        Callers join the next batch; one background flusher writes a batch per transaction,
        letting every update that ends meanwhile join it, and wakes all its callers at once.
        A failed batch raises in each caller and leaves its values dirty for the next one.
        """
        if not self._ready:
            # e.g. close(): let the batch in flight finish (its error raises here too).
            await self._writer.settle()
            return
        await self._writer.join()

    async def _write_ready(self) -> None:
        """One batch of the group commit: the keys whose scope has ended, in one transaction."""
        keys, self._ready = self._ready, set()
        try:
            await self._write_batch(keys)
        except BaseException:  # failed or cancelled: still dirty, the next batch retries them
            self._ready.update(keys)
            raise

    async def _write_batch(self, keys: set[str]) -> None:
        batch = {
            key: (entry.value, entry.version)
            for key in keys
            if (entry := self._entries.get(key)) is not None and entry.dirty
        }
        if not batch:
            return
        upserts = [(key, value) for key, (value, _) in batch.items() if value is not None]
        deletes = [key for key, (value, _) in batch.items() if value is None]
        await self._gateway.store(upserts, deletes)
        for key, (_, version) in batch.items():
            entry = self._entries.get(key)
            if entry is not None and entry.version == version:
                entry.dirty = False
                if not self._cache_size:
                    del self._entries[key]
        self._evict()

    async def _write(self, key: str, value: str | None) -> None:
        entry = self._entries.pop(key, None)
        if entry is None:
            entry = _Entry(value)
        else:
            entry.value = value
        self._entries[key] = entry  # (re)inserted last: most recently used
        entry.version += 1
        entry.dirty = True
        load = self._loads.get(key)
        if load is not None:
            load.stale = True
        scope = self._scope_var.get()
        if scope is not None and not scope.closed:
            scope.cache[key] = value
            scope.written.add(key)
            return
        self._ready.add(key)
        await self.flush()

    # --- reads -----------------------------------------------------------------------------

    async def _read(self, key: str) -> str | None:
        scope = self._scope_var.get()
        while True:
            entry = self._entries.get(key)
            if entry is not None:
                if not entry.dirty:
                    self._entries[key] = self._entries.pop(key)  # most recently used
                return entry.value
            if scope is not None and key in scope.cache:
                return scope.cache[key]
            value, fresh = await self._load(key)
            if not fresh:
                continue  # written while we were reading: the write is the answer now
            if scope is not None:
                scope.cache[key] = value
            if self._cache_size and key not in self._entries:
                self._entries[key] = _Entry(value)
                self._evict()
            return value

    async def _load(self, key: str) -> tuple[str | None, bool]:
        """Stored value of `key`, and False if the key was written while it was being read."""
        load = self._loads.get(key)
        if load is None or load.future.done():
            load = self._loads[key] = _Load(self._load_batcher.request(key))
            load.future.add_done_callback(lambda _: self._forget_load(key, load))
        value = await asyncio.shield(load.future)
        return value, not load.stale

    def _forget_load(self, key: str, load: _Load) -> None:
        if self._loads.get(key) is load:
            del self._loads[key]

    async def _load_many(self, keys: Sequence[str]) -> dict[str, str]:
        return await self._gateway.load_many(keys)

    def _evict(self) -> None:
        excess = len(self._entries) - self._cache_size
        if excess <= 0 or not self._cache_size:
            return
        victims = []
        for key, entry in self._entries.items():  # oldest first
            if not entry.dirty:
                victims.append(key)
                if len(victims) == excess:
                    break
        for key in victims:
            del self._entries[key]
