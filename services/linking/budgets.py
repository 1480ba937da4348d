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
from typing import Any

from sqlalchemy import Executable, and_, bindparam, delete, insert, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.linking.db import execute_core, rows_affected, table
from services.linking.models import BudgetEvent, BudgetSubject
from services.storage.sql_text import typed_text

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
        held = sorted(set(subjects))
        if not held:
            return
        params: dict[str, Any] = {f"subject_{i}": subject for i, subject in enumerate(held)}
        params["now"] = now
        await session.execute(_hold_statement(len(held)), params)

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
        params: dict[str, Any] = {}
        for i, ((subject, kind), window) in enumerate(windows.items()):
            params[f"subject_{i}"] = subject
            params[f"kind_{i}"] = kind
            params[f"after_{i}"] = now - timedelta(seconds=window)
        if since is not None:
            params["since"] = since
        query = _times_statement(len(windows), since is not None)
        times: dict[tuple[str, str], list[datetime]] = {key: [] for key in windows}
        for subject, kind, at in await execute_core(session, query, params):
            times[(subject, kind)].append(at)
        return times

    @staticmethod
    async def record(
        session: AsyncSession, subjects: Iterable[str], kind: str, now: datetime
    ) -> None:
        """Count one event of `kind` for each subject (one INSERT of all rows)."""
        rows = [{"subject": s, "kind": kind, "at": now} for s in sorted(set(subjects))]
        if rows:
            await execute_core(session, _RECORD, rows)

    @staticmethod
    async def clear(session: AsyncSession, subject: str, kind: str) -> None:
        """Forget the subject's events of `kind` (a right password ends a series of wrong ones)."""
        await execute_core(session, _CLEAR, {"subject": subject, "kind": kind})

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


# The statements are built once per shape (how many subjects or (subject, kind) windows, with
# or without `since`) and executed with parameters: SQLAlchemy neither builds them nor computes
# their cache keys per request (bench/README.md, backend CPU, stop 18).
# On the table (`db.execute_core`).
_EVENTS = table(BudgetEvent)
_RECORD = insert(_EVENTS)
_CLEAR = delete(_EVENTS).where(
    _EVENTS.c.subject == bindparam("subject"), _EVENTS.c.kind == bindparam("kind")
)
_HOLD: dict[int, Executable] = {}
_TIMES: dict[tuple[int, bool], Executable] = {}


def _hold_statement(subjects: int) -> Executable:
    """The upsert of `subjects` rows of budget_subjects (parameters subject_<i>, now).

    Written out: SQLAlchemy's SQLite and PostgreSQL `insert(…).on_conflict_do_update` have no
    cache key, so they were compiled afresh on every request; SQLite and PostgreSQL spell
    this upsert alike.
    """
    statement = _HOLD.get(subjects)
    if statement is None:
        columns = BudgetSubject.__table__.c
        values = ", ".join(f"(:subject_{i}, :now)" for i in range(subjects))
        statement = _HOLD[subjects] = typed_text(
            f"INSERT INTO budget_subjects (subject, touched_at) VALUES {values} "
            "ON CONFLICT (subject) DO UPDATE SET touched_at = excluded.touched_at",
            **{f"subject_{i}": columns.subject.type for i in range(subjects)},
            now=columns.touched_at.type,
        )
    return statement


def _times_statement(windows: int, since: bool) -> Executable:
    """The events of `windows` (subject, kind) pairs, each after its own moment, oldest first
    (parameters subject_<i>, kind_<i>, after_<i>, and since if `since`)."""
    statement = _TIMES.get((windows, since))
    if statement is None:
        events = _EVENTS.c
        query = select(events.subject, events.kind, events.at).where(
            or_(
                *(
                    and_(
                        events.subject == bindparam(f"subject_{i}"),
                        events.kind == bindparam(f"kind_{i}"),
                        events.at > bindparam(f"after_{i}"),
                    )
                    for i in range(windows)
                )
            )
        )
        if since:
            query = query.where(events.at > bindparam("since"))
        statement = _TIMES[(windows, since)] = query.order_by(events.at)
    return statement
