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

Each recompute also keeps `funnel_counts`: the facts summed per teacher's first and last UTC
day, scenario and step (her old rows subtracted, her new ones added). A report sums them for the
teachers whose days lie in its whole days, and reads only the teachers of its two cut days
from their facts (funnel.py): a few thousand rows instead of every fact.

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
from operator import attrgetter
from typing import Any

from sqlalchemy import delete, func, insert, or_, select, text, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from services.analytics.report import UNKNOWN_SCENARIO
from services.storage.db import table_of
from services.storage.models import (
    AnalyticsEvent,
    FunnelCount,
    FunnelFact,
    FunnelFactsState,
    FunnelTeacher,
)

STARTED, STEP, LINKED = "started", "step", "linked"
COUNTED = ("handoff", "refusal", "rating")
CHUNK = 2_000  # teachers recomputed per statement (a bound IN list)
LATE_COMMIT_MARGIN = 5_000  # ids below the last one seen where a late commit is looked for
_MICROSECOND = timedelta(microseconds=1)
_AT_THEN_ID = attrgetter("at", "id")
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
DAY = timedelta(days=1)
_ADVISORY_LOCK = 0x66756E6E  # PostgreSQL: one catch-up at a time across processes

_events = table_of(AnalyticsEvent)
_teachers = table_of(FunnelTeacher)
_facts = table_of(FunnelFact)
_state = table_of(FunnelFactsState)
_counts = table_of(FunnelCount)
# SQLite: one catch-up at a time per engine in this process (its writers are serialised anyway).
_locks: weakref.WeakKeyDictionary[Any, asyncio.Lock] = weakref.WeakKeyDictionary()


def _utc(moment: datetime) -> datetime:
    # SQLite hands back naive datetimes; every moment stored here is UTC.
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def day_of(moment: datetime) -> int:
    """The UTC day of `moment`, as days since the epoch (`funnel_counts`' days)."""
    return (_utc(moment) - EPOCH) // DAY


CountKey = tuple[int, int, str, str, str]  # first_day, last_day, section, scenario, step


def add_counts(
    counts: dict[CountKey, list[int]],
    teacher: Any,
    facts: Iterable[Any],
    sign: int = 1,
) -> None:
    """Add (`sign` 1) or take away (-1) one teacher's `funnel_counts` contributions: her
    `funnel_teachers` row and `funnel_facts` rows, as mappings."""
    days = (day_of(teacher["first_at"]), day_of(teacher["last_at"]))
    scenario = teacher["scenario"]

    def add(section: str, step: str | None, n: int, a: int = 0, b: int = 0) -> None:
        figures = counts.setdefault((*days, section, scenario, step or ""), [0, 0, 0])
        figures[0] += sign * n
        figures[1] += sign * a
        figures[2] += sign * b

    started = bool(teacher["started"])
    add("teachers", None, 1, int(started), int(started and bool(teacher["linked"])))
    for fact in facts:
        kind = fact["kind"]
        if kind != STEP:
            value = fact["value"]
            add(kind, fact["step"], 1, int(value is not None), value or 0)
            continue
        if fact["first_visit"]:
            add("visit", fact["step"], 1, fact["position"] or 0)
        if fact["stay_us"] is not None:
            add("stay", fact["step"], 1)


def teacher_facts(
    user_id: int, events: Sequence[Any]
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Her `funnel_teachers` row and `funnel_facts` rows from all of her events, in any order
    (each with `id`, `at`, `kind`, `scenario`, `step`, `value`; every `at` naive UTC or every
    one aware, as one database hands them back)."""
    ordered = sorted(events, key=_AT_THEN_ID)
    scenario = next((e.scenario for e in reversed(ordered) if e.scenario), UNKNOWN_SCENARIO)
    kinds = {e.kind for e in ordered}
    started = STARTED in kinds
    first_at, last_at = _utc(ordered[0].at), _utc(ordered[-1].at)
    teacher = {
        "user_id": user_id,
        "first_at": first_at,
        "last_at": last_at,
        "scenario": scenario,
        "started": started,
        "linked": LINKED in kinds,
        "events": len(ordered),
    }
    facts: list[dict[str, Any]] = []
    if not kinds.isdisjoint(COUNTED):
        for event in ordered:
            if event.kind in COUNTED:
                facts.append(
                    {
                        "user_id": user_id,
                        "first_at": first_at,
                        "last_at": last_at,
                        "scenario": scenario,
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
        moves = [e for e in ordered if e.kind == STEP or e.kind == LINKED]
        seen: dict[str, int] = {}
        last = len(moves) - 1
        for index, event in enumerate(moves):
            step = event.step
            if event.kind != STEP or not step:
                continue
            first = step not in seen
            if first:
                seen[step] = len(seen)
            facts.append(
                {
                    "user_id": user_id,
                    "first_at": first_at,
                    "last_at": last_at,
                    "scenario": scenario,
                    "event_id": event.id,
                    "kind": STEP,
                    "step": step,
                    # Moments of one database are all naive or all aware: their difference
                    # is exact either way.
                    "stay_us": (moves[index + 1].at - event.at) // _MICROSECOND
                    if index < last
                    else None,
                    "first_visit": first,
                    "position": seen[step] if first else None,
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
        else:  # the backfill (or a migration reset the state): every teacher from scratch
            for table in (_facts, _teachers, _counts):
                await connection.execute(delete(table))
        if not users:
            return 0
        for first in range(0, len(users), CHUNK):
            await _recompute(connection, users[first : first + CHUNK], fresh=seen is None)
        if seen is None:
            await connection.execute(insert(_state).values(id=1, last_event_id=newest))
        else:
            await connection.execute(
                update(_state).where(_state.c.id == 1).values(last_event_id=newest)
            )
            await connection.execute(delete(_counts).where(_counts.c.n == 0))
        return len(users)


async def tidy(engine: AsyncEngine) -> None:
    """After a large catch-up (the backfill) on PostgreSQL: VACUUM ANALYZE the funnel tables.

    A report reads the medians' stays from an index alone only on pages the visibility map
    marks all-visible, and plans with the tables' statistics: until autovacuum has passed
    after the backfill, every stay read also visits its row in the table (at 20,000 teachers
    the medians took 0.175 s before, 0.063 s after). Outside a transaction, as VACUUM must be.
    """
    if engine.dialect.name != "postgresql":
        return
    async with engine.connect() as connection:
        await connection.execution_options(isolation_level="AUTOCOMMIT")
        for table in (_facts, _teachers, _counts):
            await connection.exec_driver_sql(f"VACUUM ANALYZE {table.name}")


async def _late_commits(connection: AsyncConnection, seen: int) -> list[int]:
    """Teachers with an event just below `seen` whose events outnumber what her row was made
    from: an event that committed after a higher id had been caught up."""
    e, t = _events.c, _teachers.c
    # Their ids first, bound as a list: with the subquery in their place PostgreSQL expected
    # a hundred times more teachers and counted them in a scan of every event (0.1 s at
    # 20,000 teachers, at each report); a list of ids uses the user_id index.
    near = list(
        await connection.scalars(
            select(e.user_id).where(e.id > seen - LATE_COMMIT_MARGIN, e.id <= seen).distinct()
        )
    )
    if not near:
        return []
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


async def _recompute(connection: AsyncConnection, users: Sequence[int], *, fresh: bool) -> None:
    """Recompute `users`' facts from all of their events, and their share of `funnel_counts`
    (`fresh`: they have no facts yet)."""
    e = _events.c
    counts: dict[CountKey, list[int]] = {}
    if not fresh:
        await _take_away(connection, users, counts)
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
        add_counts(counts, teacher, hers)
    if not fresh:
        await connection.execute(delete(_facts).where(_facts.c.user_id.in_(users)))
        await connection.execute(delete(_teachers).where(_teachers.c.user_id.in_(users)))
    if teachers:
        await connection.execute(insert(_teachers), teachers)
    if facts:
        await connection.execute(insert(_facts), facts)
    changed = [
        {
            "first_day": key[0],
            "last_day": key[1],
            "section": key[2],
            "scenario": key[3],
            "step": key[4],
            "n": n,
            "a": a,
            "b": b,
        }
        for key, (n, a, b) in counts.items()
        if n or a or b
    ]
    if changed:
        await connection.execute(_add_to_counts(connection.dialect.name), changed)


async def _take_away(
    connection: AsyncConnection, users: Sequence[int], counts: dict[CountKey, list[int]]
) -> None:
    """Subtract what `users`' current facts contribute to `funnel_counts`."""
    t, f = _teachers.c, _facts.c
    facts: dict[int, list[Any]] = {}
    for row in await connection.execute(
        select(f.user_id, f.kind, f.step, f.value, f.first_visit, f.position, f.stay_us).where(
            f.user_id.in_(users)
        )
    ):
        facts.setdefault(row.user_id, []).append(row._mapping)
    for row in await connection.execute(
        select(t.user_id, t.first_at, t.last_at, t.scenario, t.started, t.linked).where(
            t.user_id.in_(users)
        )
    ):
        add_counts(counts, row._mapping, facts.get(row.user_id, ()), -1)


def _add_to_counts(dialect: str) -> Any:
    """INSERT … ON CONFLICT DO UPDATE adding to `funnel_counts`' figures (both databases)."""
    from sqlalchemy.dialects import postgresql, sqlite

    statement = (postgresql if dialect == "postgresql" else sqlite).insert(_counts)
    c, new = _counts.c, statement.excluded
    return statement.on_conflict_do_update(
        index_elements=[c.first_day, c.last_day, c.section, c.scenario, c.step],
        set_={"n": c.n + new.n, "a": c.a + new.a, "b": c.b + new.b},
    )


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
