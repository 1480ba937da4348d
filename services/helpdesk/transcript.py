"""The teacher's recent conversation with the bot, for the helpdesk context card.

Lines are written behind (services/storage/write_behind.py): `record` queues one INSERT and
returns without touching the database; the lines of many updates are committed together. Rules
kept exactly as when each line had its own transaction:

* an exact repeat of the teacher's previous line (same author, same text) is skipped — decided in
  SQL by the INSERT itself (`… WHERE NOT EXISTS` the same latest line), so it holds across
  restarts and several bot processes with no read on the write path and no memory per teacher;
* only the last `keep` lines per teacher stay: one DELETE per teacher per batch, after all her
  new lines of that batch (a reader never sees more than `keep`, since it waits for the batch);
* `recent` waits for the lines recorded before it.

Lines also have a lifetime: `prune_transcripts` deletes those older than the retention (30 days by
default, run by the bot's retention job, bot/retention.py).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from sqlalchemy import DateTime, String, Text, bindparam, delete, exists, select
from sqlalchemy.ext.asyncio import async_sessionmaker

from services.helpdesk.models import TranscriptEntry
from services.storage.db import table_of
from services.storage.write_behind import WriteBehind, WritesBehind

KEEP_PER_TEACHER = 40
MAX_LINE = 500

_lines = table_of(TranscriptEntry)
_user = bindparam("p_user", type_=_lines.c.user_id.type)
_author = bindparam("p_author", type_=String(8))
_text = bindparam("p_text", type_=Text())
_at = bindparam("p_at", type_=DateTime(timezone=True))

_latest_id = (
    select(_lines.c.id)
    .where(_lines.c.user_id == _user)
    .order_by(_lines.c.id.desc())
    .limit(1)
    .scalar_subquery()
)
_INSERT_UNLESS_REPEAT = _lines.insert().from_select(
    ["user_id", "at", "author", "text"],
    select(_user, _at, _author, _text).where(
        ~exists().where(
            _lines.c.id == _latest_id, _lines.c.author == _author, _lines.c.text == _text
        )
    ),
)


def _utcnow() -> datetime:
    return datetime.now(UTC)


def _trim_statement(keep: int):  # type: ignore[no-untyped-def]
    """DELETE the teacher's lines older than her `keep`-th newest (none if she has fewer)."""
    oldest_kept = (
        select(_lines.c.id)
        .where(_lines.c.user_id == _user)
        .order_by(_lines.c.id.desc())
        .offset(keep - 1)
        .limit(1)
        .scalar_subquery()
    )
    return delete(_lines).where(_lines.c.user_id == _user, _lines.c.id < oldest_kept)


class TranscriptStore(WritesBehind):
    """Keeps the last lines per teacher. Callers pass texts that are already masked."""

    def __init__(
        self,
        session_factory: async_sessionmaker,
        clock: Callable[[], datetime] = _utcnow,
        keep: int = KEEP_PER_TEACHER,
        *,
        writer: WriteBehind | None = None,
    ) -> None:
        """Store on `session_factory`; `writer` may be shared with other stores of the same
        database (one transaction for all of them), else the store owns one."""
        if keep < 1:
            raise ValueError("keep must be >= 1")
        self._sessions = session_factory
        self._clock = clock
        self._keep = keep
        self._trim = _trim_statement(keep)
        self._use_writer(session_factory, writer, "transcript")

    async def record(self, user_id: int, author: str, text: str) -> None:
        """Append a line (skipping an exact repeat of the previous one); old lines get trimmed."""
        text = text.strip()[:MAX_LINE]
        if not text:
            return
        params = {"p_user": user_id, "p_at": self._clock(), "p_author": author, "p_text": text}
        label = f"transcript line of user {user_id}"
        # Both touch only her lines: they may share an executemany with other teachers' lines.
        await self.writer.submit(_INSERT_UNLESS_REPEAT, params, order_key=user_id, label=label)
        await self.writer.submit(
            self._trim,
            {"p_user": user_id},
            once_per_batch=(id(self), user_id),
            order_key=user_id,
            label=f"transcript trim of user {user_id}",
        )

    async def recent(self, user_id: int, limit: int = 12) -> list[TranscriptEntry]:
        """The last `limit` lines, oldest first (including every line recorded before)."""
        await self.writer.flush()
        async with self._sessions() as db:
            rows = await db.scalars(
                select(TranscriptEntry)
                .where(TranscriptEntry.user_id == user_id)
                .order_by(TranscriptEntry.id.desc())
                .limit(limit)
            )
            return list(reversed(list(rows)))


async def prune_transcripts(session_factory: async_sessionmaker, before: datetime) -> int:
    """Delete every transcript line recorded before `before`; how many went.

    One DELETE by age: idempotent, so several bot replicas may run it at the same time.
    """
    async with session_factory() as db, db.begin():
        result = await db.execute(delete(_lines).where(_lines.c.at < before))
    return int(result.rowcount or 0)
