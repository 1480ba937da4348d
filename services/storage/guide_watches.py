"""Who follows a link flow's events for the bot right now (guide mode): one watcher per flow.

The teacher links in the e-journal's window; a task in some bot process long-polls her flow's
events and helps in her chat. With several replicas (and across restarts) exactly one process
may do that per flow, else she would get every message twice. The database decides: a row per
flow is a lease held by one process (`owner`) until `expires_at`; the holder renews it on every
round of its loop, a process that died stops renewing and another one takes the lapsed lease.
The row also keeps the feed's cursor (`after`), so a new holder goes on where the old one was.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from sqlalchemy import BigInteger, DateTime, Integer, String, delete, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlalchemy.orm import Mapped, mapped_column

from services.storage.db import Base

DEFAULT_TTL = timedelta(seconds=60)


class GuideWatch(Base):
    """A flow being followed: by which process, until when, and how far it has read."""

    __tablename__ = "guide_watches"

    flow_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    # Whose chat the help goes to: a process that takes a lapsed lease over needs no update
    # from her to know where to write.
    user_id: Mapped[int] = mapped_column(BigInteger)
    chat_id: Mapped[int] = mapped_column(BigInteger)
    owner: Mapped[str] = mapped_column(String(64))
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    after: Mapped[int] = mapped_column(Integer, default=0)


def _utcnow() -> datetime:
    return datetime.now(UTC)


def _aware(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


class GuideWatches:
    """Leases on following a flow, one holder at a time across processes."""

    def __init__(
        self,
        session_factory: async_sessionmaker,
        *,
        owner: str,
        ttl: timedelta = DEFAULT_TTL,
        clock: Callable[[], datetime] = _utcnow,
    ) -> None:
        self._sessions = session_factory
        self.owner = owner
        self._ttl = ttl
        self._clock = clock

    async def claim(
        self, flow_id: str, *, user_id: int, chat_id: int, after: int = 0
    ) -> int | None:
        """Take or renew the lease; the cursor to read on from, or None if another holds it.

        `after` is the caller's own cursor; the larger of it and the stored one wins.
        """
        now = self._clock()
        async with self._sessions.begin() as db:
            taken = await db.execute(
                update(GuideWatch)
                .where(
                    GuideWatch.flow_id == flow_id,
                    or_(GuideWatch.owner == self.owner, GuideWatch.expires_at < now),
                )
                .values(owner=self.owner, expires_at=now + self._ttl)
                .execution_options(synchronize_session=False)
            )
            if taken.rowcount == 1:
                stored = await db.scalar(
                    select(GuideWatch.after).where(GuideWatch.flow_id == flow_id)
                )
                return max(int(stored or 0), after)
            exists = await db.scalar(
                select(GuideWatch.flow_id).where(GuideWatch.flow_id == flow_id)
            )
        if exists is not None:
            return None
        try:
            async with self._sessions.begin() as db:
                db.add(
                    GuideWatch(
                        flow_id=flow_id,
                        user_id=user_id,
                        chat_id=chat_id,
                        owner=self.owner,
                        expires_at=now + self._ttl,
                        after=after,
                    )
                )
        except IntegrityError:  # another process inserted it first
            return None
        return after

    async def advance(self, flow_id: str, after: int) -> bool:
        """Store the cursor and renew; False if the lease was lost meanwhile."""
        now = self._clock()
        async with self._sessions.begin() as db:
            result = await db.execute(
                update(GuideWatch)
                .where(GuideWatch.flow_id == flow_id, GuideWatch.owner == self.owner)
                .values(after=after, expires_at=now + self._ttl)
                .execution_options(synchronize_session=False)
            )
        return result.rowcount == 1

    async def release(self, flow_id: str, *, finished: bool = False) -> None:
        """Give the lease up: `finished` (the flow ended, or she left guide mode) forgets the
        flow; otherwise the lease just lapses now, for another process to take."""
        async with self._sessions.begin() as db:
            if finished:
                await db.execute(
                    delete(GuideWatch).where(
                        GuideWatch.flow_id == flow_id, GuideWatch.owner == self.owner
                    )
                )
            else:
                await db.execute(
                    update(GuideWatch)
                    .where(GuideWatch.flow_id == flow_id, GuideWatch.owner == self.owner)
                    .values(expires_at=self._clock() - timedelta(seconds=1))
                    .execution_options(synchronize_session=False)
                )

    async def lapsed(self, limit: int = 1000) -> list[tuple[str, int, int]]:
        """Flows nobody follows right now (their holder died): (flow id, user id, chat id)."""
        async with self._sessions() as db:
            rows = await db.execute(
                select(GuideWatch.flow_id, GuideWatch.user_id, GuideWatch.chat_id)
                .where(GuideWatch.expires_at < self._clock())
                .limit(limit)
            )
            return [(row[0], int(row[1]), int(row[2])) for row in rows]

    async def holder(self, flow_id: str) -> tuple[str, datetime] | None:
        async with self._sessions() as db:
            row = (
                await db.execute(
                    select(GuideWatch.owner, GuideWatch.expires_at).where(
                        GuideWatch.flow_id == flow_id
                    )
                )
            ).first()
        return (row[0], _aware(row[1])) if row is not None else None
