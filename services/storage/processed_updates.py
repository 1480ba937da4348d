"""Durable "this update is handled" markers, so that a redelivered update has one effect.

Telegram delivers an update again when the bot did not confirm it: polling resumed after a crash
or a restart, a webhook answered too late. The bot's de-duplication remembers recent updates in
memory; these markers make that memory survive the process. A marker is written (through the
write-behind, in the same kind of group commit as the update's other side writes) once the
update's handling and its FSM writes are done, and the polling loop confirms an update to
Telegram only after the markers and everything else of its batch are committed.

Reading costs nothing in the steady state: update ids grow, so only ids up to the newest marker
found at start-up (`horizon`) can have been handled by an earlier process, and only those are
looked up. Markers older than `keep` (a day: Telegram keeps an unconfirmed update that long) are
deleted by `purge()`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import async_sessionmaker

from services.storage.db import table_of
from services.storage.models import ProcessedUpdate
from services.storage.sql_text import typed_text
from services.storage.sqlite_one_hop import off_the_loop
from services.storage.write_behind import WriteBehind

logger = logging.getLogger(__name__)

DEFAULT_KEEP = timedelta(hours=24)
_table = table_of(ProcessedUpdate)


def _utcnow() -> datetime:
    return datetime.now(UTC)


# Written out and built once: SQLAlchemy's SQLite and PostgreSQL `on_conflict_do_nothing` have no
# cache key, so the marker's INSERT was compiled afresh for every update (bench/README.md, stop
# 19); both databases spell it alike.
_MARK = typed_text(
    "INSERT INTO processed_updates (bot_id, update_id, done_at) VALUES (:p_bot, :p_update, :p_at)"
    " ON CONFLICT DO NOTHING",
    p_bot=_table.c.bot_id.type,
    p_update=_table.c.update_id.type,
    p_at=_table.c.done_at.type,
)


class ProcessedUpdates:
    """Markers of handled updates of one bot, in the bot's database."""

    def __init__(
        self,
        session_factory: async_sessionmaker,
        writer: WriteBehind,
        *,
        bot_id: int,
        clock: Callable[[], datetime] = _utcnow,
        keep: timedelta = DEFAULT_KEEP,
    ) -> None:
        """Markers for `bot_id`, written through `writer` (shared with the bot's side writes)."""
        self._sessions = session_factory
        self._writer = writer
        self._bot_id = bot_id
        self._clock = clock
        self._keep = keep
        self.horizon = 0  # the newest update id an earlier process may have handled

    async def load_horizon(self) -> int:
        """Read the newest marker kept (call once at start-up, after `purge`)."""
        async with self._sessions() as db:
            newest = await db.scalar(
                select(func.max(ProcessedUpdate.update_id)).where(
                    ProcessedUpdate.bot_id == self._bot_id
                )
            )
        self.horizon = int(newest or 0)
        return self.horizon

    async def is_done(self, update_id: int) -> bool:
        """Whether an earlier process finished `update_id` (False at once above the horizon)."""
        if update_id > self.horizon:
            return False
        async with self._sessions() as db:
            found = await db.get(ProcessedUpdate, (self._bot_id, update_id))
            return found is not None

    async def mark_done(self, update_id: int) -> None:
        """Queue the marker (committed with the next write-behind batch)."""
        params = {"p_bot": self._bot_id, "p_update": update_id, "p_at": self._clock()}
        await self._writer.submit(
            _MARK,
            params,
            order_key=(self, update_id),  # its own row only: joins the batch's other markers
            label=f"processed update {update_id}",
        )

    async def purge(self) -> int:
        """Delete markers older than `keep`; returns how many went."""
        cutoff = self._clock() - self._keep
        # Up to days of markers at once: not in the event loop's thread.
        with off_the_loop():
            async with self._sessions() as db, db.begin():
                result = await db.execute(
                    delete(ProcessedUpdate).where(
                        ProcessedUpdate.bot_id == self._bot_id, ProcessedUpdate.done_at < cutoff
                    )
                )
        return int(result.rowcount or 0)
