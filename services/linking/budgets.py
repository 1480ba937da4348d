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
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import and_, delete, insert, or_, select
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
        """Take the write lock of every subject (see the module docstring), in sorted order.

        One multi-row upsert: PostgreSQL inserts (or updates) the rows of its VALUES list in
        the order given, so the row locks are still taken in sorted order.
        """
        rows = [{"subject": subject, "touched_at": now} for subject in sorted(set(subjects))]
        if not rows:
            return
        insert = _insert_for(session)(BudgetSubject).values(rows)
        await session.execute(
            insert.on_conflict_do_update(
                index_elements=[BudgetSubject.subject],
                set_={"touched_at": insert.excluded.touched_at},
            )
        )

    async def waits(
        self,
        session: AsyncSession,
        checks: Sequence[tuple[str, Limit]],
        now: datetime,
        *,
        since: datetime | None = None,
    ) -> list[int]:
        """For each (subject, limit): seconds until one more event fits the limit (0: it fits
        now). One query reads the events of every check; each limit counts its own window.

        Only events after `since` count (e.g. wrong passwords before a password change do not).
        """
        return [wait for wait, _used in await self.counted(session, checks, now, since=since)]

    async def counted(
        self,
        session: AsyncSession,
        checks: Sequence[tuple[str, Limit]],
        now: datetime,
        *,
        since: datetime | None = None,
    ) -> list[tuple[int, int]]:
        """`waits`, each with how many events its window holds now (after `since`)."""
        times = await self._times(session, checks, now, since)
        counted = []
        for subject, limit in checks:
            within = _within(times, subject, limit, now)
            counted.append((_wait(within, limit, now), len(within)))
        return counted

    async def wait(
        self,
        session: AsyncSession,
        subject: str,
        limit: Limit,
        now: datetime,
        *,
        since: datetime | None = None,
    ) -> int:
        """`waits` of one subject and limit."""
        [wait] = await self.waits(session, ((subject, limit),), now, since=since)
        return wait

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
        [(_wait, used)] = await self.counted(session, ((subject, limit),), now, since=since)
        return used

    @staticmethod
    async def _times(
        session: AsyncSession,
        checks: Iterable[tuple[str, Limit]],
        now: datetime,
        since: datetime | None,
    ) -> dict[tuple[str, str], list[datetime]]:
        """The times of the events each (subject, kind) of `checks` has in its longest window,
        oldest first."""
        windows: dict[tuple[str, str], int] = {}
        for subject, limit in checks:
            key = (subject, limit.kind)
            windows[key] = max(windows.get(key, 0), limit.window)
        conditions = [
            and_(
                BudgetEvent.subject == subject,
                BudgetEvent.kind == kind,
                BudgetEvent.at > now - timedelta(seconds=window),
            )
            for (subject, kind), window in windows.items()
        ]
        query = select(BudgetEvent.subject, BudgetEvent.kind, BudgetEvent.at).where(
            or_(*conditions)
        )
        if since is not None:
            query = query.where(BudgetEvent.at > since)
        times: dict[tuple[str, str], list[datetime]] = {key: [] for key in windows}
        for subject, kind, at in await session.execute(query.order_by(BudgetEvent.at)):
            times[(subject, kind)].append(at)
        return times

    @staticmethod
    async def record(
        session: AsyncSession, subjects: Iterable[str], kind: str, now: datetime
    ) -> None:
        """Count one event of `kind` for each subject (one INSERT of all rows)."""
        rows = [{"subject": s, "kind": kind, "at": now} for s in sorted(set(subjects))]
        if rows:
            await session.execute(insert(BudgetEvent), rows)

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


def _within(
    times: dict[tuple[str, str], list[datetime]], subject: str, limit: Limit, now: datetime
) -> list[datetime]:
    """The times of `subject`'s events that count for `limit` now (its own window)."""
    start = now - timedelta(seconds=limit.window)
    return [at for at in times[(subject, limit.kind)] if at > start]


def _wait(times: list[datetime], limit: Limit, now: datetime) -> int:
    """Seconds until one more event fits `limit`, given the times counted, oldest first."""
    over = len(times) - limit.max_events
    if over < 0:
        return 0
    # The event whose ageing out brings the count below the limit.
    frees_at = times[over] + timedelta(seconds=limit.window)
    return max(1, math.ceil((frees_at - now).total_seconds()))


def _insert_for(session: AsyncSession):  # type: ignore[no-untyped-def]
    """The dialect's INSERT, which knows ON CONFLICT (SQLite and PostgreSQL spell it alike)."""
    name = session.get_bind().dialect.name
    return postgresql.insert if name == "postgresql" else sqlite.insert
