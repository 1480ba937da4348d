"""Budgets: how often something may happen to one subject within a sliding window.

A subject is what a limit is kept for — a phone number, an e-mail address, a VK ID, an end
user, an API key — named by `Budgets.subject("phone", "+7…")`, a keyed digest, so the tables
never hold the number itself. Events ("code_sent", "wrong_code", …) are rows with a time;
a limit counts the rows of one kind in the last `window` seconds, so "10 a day" means at most
10 in ANY 24 hours, not per calendar day (no double budget around midnight).

Concurrency: `hold` writes one row per subject, in sorted order, before the request counts or
spends. On PostgreSQL that row lock is held until commit, so the count-then-record of two
requests for one subject cannot interleave; on SQLite every write transaction is serialised by
BEGIN IMMEDIATE already. So that no two requests wait for each other in opposite orders, a
request holds its VK ID subjects (passwords, recoveries) before its destination and caller
subjects (codes), and never the other way round.
"""

from __future__ import annotations

import hashlib
import hmac
import math
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from services.linking.db import rows_affected
from services.linking.models import BudgetEvent, BudgetSubject

# Events of these kinds are counted; the names are stored.
CODE_SENT = "code_sent"
WRONG_CODE = "wrong_code"
WRONG_PASSWORD = "wrong_password"
RECOVERY_STARTED = "recovery"

# No limit looks further back than this; older events are pruned.
LONGEST_WINDOW = 24 * 3600


@dataclass(frozen=True)
class Limit:
    """At most `max_events` events of `kind` in any `window` seconds; `name` is shown to clients."""

    name: str
    kind: str
    max_events: int
    window: int


class Budgets:
    """Counting and spending of budgets inside the caller's transaction."""

    def __init__(self, secret: bytes) -> None:
        self._key = hmac.new(secret, b"budget-subjects", hashlib.sha256).digest()

    def subject(self, scope: str, value: str) -> str:
        """The stored name of a subject: a keyed digest of `scope:value` (64 hex chars)."""
        return hmac.new(self._key, f"{scope}:{value}".encode(), hashlib.sha256).hexdigest()

    async def hold(self, session: AsyncSession, subjects: Iterable[str], now: datetime) -> None:
        """Take the write lock of every subject (see the module docstring), in sorted order."""
        for subject in sorted(set(subjects)):
            insert = _insert_for(session)(BudgetSubject).values(subject=subject, touched_at=now)
            await session.execute(
                insert.on_conflict_do_update(
                    index_elements=[BudgetSubject.subject], set_={"touched_at": now}
                )
            )

    async def wait(
        self,
        session: AsyncSession,
        subject: str,
        limit: Limit,
        now: datetime,
        *,
        since: datetime | None = None,
    ) -> int:
        """Seconds until one more event fits the limit (0: it fits now).

        Only events after `since` count (e.g. wrong passwords before a password change do not).
        """
        times = await self._times(session, subject, limit, now, since)
        over = len(times) - limit.max_events
        if over < 0:
            return 0
        # The event whose ageing out brings the count below the limit.
        frees_at = times[over] + timedelta(seconds=limit.window)
        return max(1, math.ceil((frees_at - now).total_seconds()))

    async def used(
        self,
        session: AsyncSession,
        subject: str,
        limit: Limit,
        now: datetime,
        *,
        since: datetime | None = None,
    ) -> int:
        """How many events of the limit's kind its window holds now (after `since`)."""
        return len(await self._times(session, subject, limit, now, since))

    @staticmethod
    async def _times(
        session: AsyncSession,
        subject: str,
        limit: Limit,
        now: datetime,
        since: datetime | None,
    ) -> list[datetime]:
        conditions = [
            BudgetEvent.subject == subject,
            BudgetEvent.kind == limit.kind,
            BudgetEvent.at > now - timedelta(seconds=limit.window),
        ]
        if since is not None:
            conditions.append(BudgetEvent.at > since)
        rows = await session.scalars(
            select(BudgetEvent.at).where(*conditions).order_by(BudgetEvent.at)
        )
        return list(rows)

    @staticmethod
    def record(session: AsyncSession, subjects: Iterable[str], kind: str, now: datetime) -> None:
        """Count one event of `kind` for each subject."""
        session.add_all(BudgetEvent(subject=s, kind=kind, at=now) for s in set(subjects))

    @staticmethod
    async def clear(session: AsyncSession, subject: str, kind: str) -> None:
        """Forget the subject's events of `kind` (a right password ends a series of wrong ones)."""
        await session.execute(
            delete(BudgetEvent)
            .where(BudgetEvent.subject == subject, BudgetEvent.kind == kind)
            .execution_options(synchronize_session=False)
        )

    @staticmethod
    async def prune(session: AsyncSession, now: datetime) -> int:
        """Delete events and subjects older than the longest window; returns events deleted."""
        cutoff = now - timedelta(seconds=LONGEST_WINDOW)
        result = await session.execute(
            delete(BudgetEvent)
            .where(BudgetEvent.at <= cutoff)
            .execution_options(synchronize_session=False)
        )
        await session.execute(
            delete(BudgetSubject)
            .where(BudgetSubject.touched_at <= cutoff)
            .execution_options(synchronize_session=False)
        )
        return rows_affected(result)


def _insert_for(session: AsyncSession):  # type: ignore[no-untyped-def]
    """The dialect's INSERT, which knows ON CONFLICT (SQLite and PostgreSQL spell it alike)."""
    name = session.get_bind().dialect.name
    return postgresql.insert if name == "postgresql" else sqlite.insert
