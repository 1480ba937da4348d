"""The teacher's recent conversation with the bot, for the helpdesk context card."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import async_sessionmaker

from services.helpdesk.models import TranscriptEntry

KEEP_PER_TEACHER = 40
MAX_LINE = 500


def _utcnow() -> datetime:
    return datetime.now(UTC)


class TranscriptStore:
    """Keeps the last lines per teacher. Callers pass texts that are already masked."""

    def __init__(
        self,
        session_factory: async_sessionmaker,
        clock: Callable[[], datetime] = _utcnow,
        keep: int = KEEP_PER_TEACHER,
    ) -> None:
        self._sessions = session_factory
        self._clock = clock
        self._keep = keep

    async def record(self, user_id: int, author: str, text: str) -> None:
        """Append a line (skipping an exact repeat of the previous one) and trim old lines."""
        text = text.strip()[:MAX_LINE]
        if not text:
            return
        async with self._sessions.begin() as db:
            previous = await db.scalar(
                select(TranscriptEntry)
                .where(TranscriptEntry.user_id == user_id)
                .order_by(TranscriptEntry.id.desc())
                .limit(1)
            )
            if previous is not None and previous.author == author and previous.text == text:
                return
            db.add(TranscriptEntry(user_id=user_id, at=self._clock(), author=author, text=text))
            await db.flush()
            oldest_kept = await db.scalar(
                select(TranscriptEntry.id)
                .where(TranscriptEntry.user_id == user_id)
                .order_by(TranscriptEntry.id.desc())
                .offset(self._keep - 1)
                .limit(1)
            )
            if oldest_kept is not None:
                await db.execute(
                    delete(TranscriptEntry).where(
                        TranscriptEntry.user_id == user_id, TranscriptEntry.id < oldest_kept
                    )
                )

    async def recent(self, user_id: int, limit: int = 12) -> list[TranscriptEntry]:
        """The last `limit` lines, oldest first."""
        async with self._sessions() as db:
            rows = await db.scalars(
                select(TranscriptEntry)
                .where(TranscriptEntry.user_id == user_id)
                .order_by(TranscriptEntry.id.desc())
                .limit(limit)
            )
            return list(reversed(list(rows)))
