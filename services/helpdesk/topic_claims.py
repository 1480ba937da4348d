"""Claims on creating a ticket's forum topic, so that two processes never create two topics.

`TicketTopics.ensure_place` (bot/helpdesk/topics.py) finds a ticket without its topic (or with a
topic Telegram says is gone) and creates one. Inside one process a lock per ticket serialises
that; across replicas the database decides: the first to insert the claim row for (ticket,
replaced thread) creates the topic, the others wait for the ticket to show it. A claim is a
lease: if its owner dies before finishing, it expires after `ttl` and another process may claim
it.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import async_sessionmaker

from services.helpdesk.models import TopicClaim

DEFAULT_TTL = timedelta(seconds=60)


def _utcnow() -> datetime:
    return datetime.now(UTC)


class TopicClaims:
    """Leases on (ticket, replaced thread): one creator at a time, across processes."""

    def __init__(
        self,
        session_factory: async_sessionmaker,
        *,
        owner: str,
        ttl: timedelta = DEFAULT_TTL,
        clock: Callable[[], datetime] = _utcnow,
    ) -> None:
        """Claims made on behalf of `owner` (this process), each valid for `ttl`."""
        self._sessions = session_factory
        self._owner = owner
        self._ttl = ttl
        self._clock = clock

    async def claim(self, ticket_id: int, replacing: int | None = None) -> bool:
        """True if this process may create the topic now; False if another one is at it."""
        now = self._clock()
        key = replacing or 0
        try:
            async with self._sessions.begin() as db:
                await db.execute(
                    delete(TopicClaim).where(
                        TopicClaim.ticket_id == ticket_id,
                        TopicClaim.replacing == key,
                        TopicClaim.expires_at < now,
                    )
                )
                db.add(
                    TopicClaim(
                        ticket_id=ticket_id,
                        replacing=key,
                        owner=self._owner,
                        expires_at=now + self._ttl,
                    )
                )
        except IntegrityError:
            return False
        return True

    async def release(self, ticket_id: int, replacing: int | None = None) -> None:
        """Give the claim up (done, or failed: another process may try)."""
        async with self._sessions.begin() as db:
            await db.execute(
                delete(TopicClaim).where(
                    TopicClaim.ticket_id == ticket_id,
                    TopicClaim.replacing == (replacing or 0),
                    TopicClaim.owner == self._owner,
                )
            )
