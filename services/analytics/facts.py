"""Per-teacher funnel facts, derived from `analytics_events` and caught up before each report.

Sorting a million events by teacher and time at every /stats is what made it slow; the facts
do that work once per teacher: `funnel_teachers` (her scenario, started, linked, first and last
moment) and `funnel_facts` (each step visit with her scenario, the stay to her next move, first
visit or not, its position; each handoff, refusal and rating). A report then reads them for
the teachers whose every event lies in its period, which for them gives the same figures as
her events (services/analytics/funnel.py).

Caught up, not maintained on write: the hot write path (enter_step) stays one statement, and
the facts cannot drift. `catch_up` reads the events written after the last one it saw
(`funnel_facts_state`), and recomputes every teacher who has one of them from all of her
events, so events arriving out of order, late or twice come out as if they had been written
in order. The first catch-up is the backfill (all teachers); later ones cost what was written
since the previous report.

Event ids need not become visible in increasing order: with several writers (replicas on
PostgreSQL) a lower id may commit after a higher one was caught up. So each catch-up also looks
`LATE_COMMIT_MARGIN` ids below the last one it saw and recomputes a teacher there whose events
no longer number what her row was made from. Definitions: funnel.py's docstring.
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import delete, func, insert, or_, select, text, update
from sqlalchemy.ext.asyncio import AsyncConnection

from services.analytics.report import UNKNOWN_SCENARIO
from services.storage.db import table_of
from services.storage.models import AnalyticsEvent, FunnelFact, FunnelFactsState, FunnelTeacher

STARTED, STEP, LINKED = "started", "step", "linked"
COUNTED = ("handoff", "refusal", "rating")
CHUNK = 2_000  # teachers recomputed per statement (a bound IN list)
LATE_COMMIT_MARGIN = 5_000  # ids below the last one seen where a late commit is looked for
_MICROSECOND = timedelta(microseconds=1)
_ADVISORY_LOCK = 0x66756E6E  # PostgreSQL: one catch-up at a time across processes

_events = table_of(AnalyticsEvent)
_teachers = table_of(FunnelTeacher)
_facts = table_of(FunnelFact)
_state = table_of(FunnelFactsState)
# SQLite: one catch-up at a time per engine in this process (its writers are serialised anyway).
_locks: weakref.WeakKeyDictionary[Any, asyncio.Lock] = weakref.WeakKeyDictionary()


def _utc(moment: datetime) -> datetime:
    # SQLite hands back naive datetimes; every moment stored here is UTC.
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def teacher_facts(
    user_id: int, events: Sequence[Any]
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Her `funnel_teachers` row and `funnel_facts` rows from all of her events, in any order
    (each with `id`, `at`, `kind`, `scenario`, `step`, `value`)."""
    ordered = sorted(events, key=lambda e: (_utc(e.at), e.id))
    scenario = next((e.scenario for e in reversed(ordered) if e.scenario), UNKNOWN_SCENARIO)
    started = any(e.kind == STARTED for e in ordered)
    first_at, last_at = _utc(ordered[0].at), _utc(ordered[-1].at)
    teacher = {
        "user_id": user_id,
        "first_at": first_at,
        "last_at": last_at,
        "scenario": scenario,
        "started": started,
        "linked": any(e.kind == LINKED for e in ordered),
        "events": len(ordered),
    }
    common = {"user_id": user_id, "first_at": first_at, "last_at": last_at, "scenario": scenario}
    facts: list[dict[str, Any]] = []
    for event in ordered:
        if event.kind in COUNTED:
            facts.append(
                {
                    **common,
                    "event_id": event.id,
                    "kind": event.kind,
                    "step": event.step,
                    "stay_us": None,
                    "first_visit": False,
                    "position": None,
                    "value": event.value,
                }
            )
    if started:
        moves = [e for e in ordered if e.kind in (STEP, LINKED)]
        seen: dict[str, int] = {}
        for index, event in enumerate(moves):
            if event.kind != STEP or not event.step:
                continue
            following = moves[index + 1] if index + 1 < len(moves) else None
            first = event.step not in seen
            if first:
                seen[event.step] = len(seen)
            facts.append(
                {
                    **common,
                    "event_id": event.id,
                    "kind": STEP,
                    "step": event.step,
                    "stay_us": (_utc(following.at) - _utc(event.at)) // _MICROSECOND
                    if following is not None
                    else None,
                    "first_visit": first,
                    "position": seen[event.step] if first else None,
                    "value": None,
                }
            )
    return teacher, facts


async def catch_up(connection: AsyncConnection) -> int:
    """Bring the facts up to the events committed so far; returns the teachers recomputed.

    Runs in `connection`'s transaction (the caller commits)."""
    engine = connection.engine.sync_engine
    lock = _locks.setdefault(engine, asyncio.Lock())
    async with lock:
        if connection.dialect.name == "postgresql":
            await connection.execute(text(f"SELECT pg_advisory_xact_lock({_ADVISORY_LOCK})"))
        seen = await connection.scalar(select(_state.c.last_event_id).where(_state.c.id == 1))
        newest = await connection.scalar(select(func.max(_events.c.id)))
        if newest is None:
            return 0
        newest = max(newest, seen or 0)
        users = list(
            await connection.scalars(
                select(_events.c.user_id)
                .where(_events.c.id > (seen or 0), _events.c.id <= newest)
                .distinct()
            )
        )
        if seen is not None:
            users = sorted(set(users) | set(await _late_commits(connection, seen)))
        if not users:
            return 0
        for first in range(0, len(users), CHUNK):
            await _recompute(connection, users[first : first + CHUNK])
        if seen is None:
            await connection.execute(insert(_state).values(id=1, last_event_id=newest))
        else:
            await connection.execute(
                update(_state).where(_state.c.id == 1).values(last_event_id=newest)
            )
        return len(users)


async def _late_commits(connection: AsyncConnection, seen: int) -> list[int]:
    """Teachers with an event just below `seen` whose events outnumber what her row was made
    from: an event that committed after a higher id had been caught up."""
    e, t = _events.c, _teachers.c
    near = select(e.user_id).where(e.id > seen - LATE_COMMIT_MARGIN, e.id <= seen).distinct()
    counts = (
        select(e.user_id, func.count().label("n"))
        .where(e.user_id.in_(near))
        .group_by(e.user_id)
        .subquery()
    )
    stale = (
        select(counts.c.user_id)
        .select_from(counts.outerjoin(_teachers, t.user_id == counts.c.user_id))
        .where(or_(t.events.is_(None), t.events != counts.c.n))
    )
    return list(await connection.scalars(stale))


async def _recompute(connection: AsyncConnection, users: Sequence[int]) -> None:
    e = _events.c
    rows = await connection.execute(
        select(e.id, e.at, e.user_id, e.kind, e.scenario, e.step, e.value)
        .where(e.user_id.in_(users))
        .order_by(e.user_id)
    )
    teachers: list[dict[str, Any]] = []
    facts: list[dict[str, Any]] = []
    for user_id, events in _by_user(rows):
        teacher, hers = teacher_facts(user_id, events)
        teachers.append(teacher)
        facts.extend(hers)
    await connection.execute(delete(_facts).where(_facts.c.user_id.in_(users)))
    await connection.execute(delete(_teachers).where(_teachers.c.user_id.in_(users)))
    if teachers:
        await connection.execute(insert(_teachers), teachers)
    if facts:
        await connection.execute(insert(_facts), facts)


def _by_user(rows: Iterable[Any]) -> Iterable[tuple[int, list[Any]]]:
    current: int | None = None
    events: list[Any] = []
    for row in rows:
        if row.user_id != current:
            if events:
                yield current, events  # type: ignore[misc]
            current, events = row.user_id, []
        events.append(row)
    if events:
        yield current, events  # type: ignore[misc]
