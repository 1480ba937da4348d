"""The `fsm_records` table and the few SQL statements the FSM storage runs against it.

One row per storage key built by the key builder (`…:state` or `…:data`), the value as text:
the state name, or the data dict as JSON. An absent row means "no state" / "empty data".
`updated_at` is the time of the row's last write: the retention job deletes rows of dialogs
abandoned for longer than the retention (`prune`).
Statements are Core (not ORM) and built once, so SQLAlchemy's compiled cache serves them.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime

from sqlalchemy import DateTime, Text, bindparam, delete, select
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.orm import Mapped, mapped_column

from services.storage.db import Base, sqlite_write_lock, table_of
from services.storage.held_connection import HeldConnection
from services.storage.sql_text import typed_text
from services.storage.sqlite_one_hop import off_the_loop_if_big


class FsmRecord(Base):
    """One FSM value: a state name or a JSON data dict, under the key the key builder made."""

    __tablename__ = "fsm_records"

    key: Mapped[str] = mapped_column(Text, primary_key=True)
    value: Mapped[str] = mapped_column(Text)
    # Nullable only for rows written before the column existed (the migration fills them).
    updated_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), index=True)


_TABLE = table_of(FsmRecord)
_DIALECTS = ("sqlite", "postgresql")
# Written out and built once: SQLAlchemy's SQLite and PostgreSQL `on_conflict_do_update` have no
# cache key, so every group commit compiled the upsert afresh (bench/README.md, stop 19); both
# databases spell it alike.
_UPSERT = typed_text(
    'INSERT INTO fsm_records ("key", value, updated_at) VALUES (:key, :value, :updated_at)'
    ' ON CONFLICT ("key") DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at',
    key=_TABLE.c.key.type,
    value=_TABLE.c.value.type,
    updated_at=_TABLE.c.updated_at.type,
)


def _utcnow() -> datetime:
    return datetime.now(UTC)


class FsmRecordsGateway:
    """Loads and stores `fsm_records` rows over two long-lived connections (reader, writer).

    Works on SQLite (aiosqlite) and PostgreSQL (asyncpg); upserts use the dialect's
    INSERT … ON CONFLICT DO UPDATE.
    """

    def __init__(self, engine: AsyncEngine, *, clock: Callable[[], datetime] = _utcnow) -> None:
        self._clock = clock
        if engine.dialect.name not in _DIALECTS:
            raise ValueError(
                f"SQL FSM storage supports SQLite and PostgreSQL, not {engine.dialect.name}"
            )
        self._upsert = _UPSERT
        self._delete = delete(_TABLE).where(_TABLE.c.key.in_(bindparam("keys", expanding=True)))
        self._prune = (
            delete(_TABLE).where(_TABLE.c.updated_at < bindparam("before")).returning(_TABLE.c.key)
        )
        self._select = select(_TABLE.c.key, _TABLE.c.value).where(
            _TABLE.c.key.in_(bindparam("keys", expanding=True))
        )
        self._reader = HeldConnection(engine, autocommit=True)
        self._writer = HeldConnection(engine, autocommit=False)
        self._write_lock = sqlite_write_lock(engine)  # shared with the write-behind

    async def load_many(self, keys: Sequence[str]) -> dict[str, str]:
        """Stored values of those `keys` that have a row."""
        async with self._reader.lock:
            connection = await self._reader.get()
            try:
                result = await connection.execute(self._select, {"keys": list(keys)})
            except Exception:
                await self._reader.drop()
                raise
            return dict(result.tuples().all())

    async def store(self, upserts: Sequence[tuple[str, str]], deletes: Sequence[str]) -> None:
        """Write `upserts` (key, value) and delete `deletes` in one transaction."""
        big = off_the_loop_if_big(len(upserts) + len(deletes))  # SQLite: its thread, not the loop
        async with self._writer.lock, self._write_lock:
            connection = await self._writer.get()
            try:
                with big:
                    async with connection.begin():
                        if upserts:
                            now = self._clock()
                            await connection.execute(
                                self._upsert,
                                [{"key": k, "value": v, "updated_at": now} for k, v in upserts],
                            )
                        if deletes:
                            await connection.execute(self._delete, {"keys": list(deletes)})
            except BaseException:
                # Cancelled or failed mid-transaction: the connection's state is unknown.
                await self._writer.drop()
                raise

    async def prune(self, before: datetime) -> list[str]:
        """Delete the rows last written before `before`; their keys."""
        async with self._writer.lock:
            connection = await self._writer.get()
            try:
                async with connection.begin():
                    result = await connection.execute(self._prune, {"before": before})
                    return list(result.scalars().all())
            except BaseException:
                await self._writer.drop()
                raise

    async def close(self) -> None:
        await self._reader.close()
        await self._writer.close()
