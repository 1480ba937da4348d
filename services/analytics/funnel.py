"""The linking funnel from `analytics_events`, aggregated by the database.

Definitions (one period [since, until)):
- a teacher belongs to the scenario of her last event in the period that names one
  (`"unknown"` when none does: she never got past the branch question);
- *started*: teachers with a `started` event in the period — the cohort the funnel follows;
- *reached a step*: teachers of the cohort with a `step` event for it; *completed*: with `linked`;
- *median time* on a step: from entering it to entering the next step (or being linked), over
  every visit of the cohort that moved on;
- *handoffs*, *refusals* and *ratings* count every such event of the period, by scenario and step;
- steps are listed in the order given (the dialogs' states); others by their average position
  among the steps each teacher of the cohort visited, first visits only.

"Later" means a later `at`, and for equal moments a later `id` (the order events were written).
Four statements read the period; only aggregates reach Python (a few rows per scenario and
step), so the cost is the database's scan of the period, not one Python object per event.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from sqlalchemy import (
    CTE,
    BigInteger,
    ColumnElement,
    CompoundSelect,
    Select,
    and_,
    case,
    cast,
    distinct,
    func,
    literal_column,
    null,
    or_,
    select,
    text,
    true,
    union,
    union_all,
)
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession

from services.analytics.facts import DAY, EPOCH, catch_up
from services.analytics.period import Period
from services.analytics.report import (
    UNKNOWN_SCENARIO,
    FunnelReport,
    ScenarioFunnel,
    StepStats,
    percent,
)
from services.analytics.sql import (
    LATEST_KEY_LENGTH,
    OrderStatistics,
    Window,
    epoch_us,
    latest_key,
    order_statistic_rows,
)
from services.storage.db import table_of
from services.storage.models import AnalyticsEvent, FunnelCount, FunnelFact, FunnelTeacher

STARTED, STEP, LINKED = "started", "step", "linked"
HANDOFF, REFUSAL, RATING = "handoff", "refusal", "rating"

_events = table_of(AnalyticsEvent)
_teachers = table_of(FunnelTeacher)
_facts = table_of(FunnelFact)
_counts = table_of(FunnelCount)
# Literal SQL, not parameters: PostgreSQL matches GROUP BY expressions textually.
_UNKNOWN: ColumnElement[str] = literal_column(f"'{UNKNOWN_SCENARIO}'")
_NO_STEP: ColumnElement[str] = literal_column("''")
_NONE = null()
FEW_CUT = 2_000  # teachers a period cuts through whose stays are merged in Python


def _numbers(*values: Any) -> list[Any]:
    """Three BIGINT columns of a section (NULL where a section has fewer figures)."""
    padded = [*values, *[_NONE] * (3 - len(values))]
    return [cast(v, BigInteger).label(f"n{i}") for i, v in enumerate(padded)]


def _event_rows(period: Period, users: Select | None = None) -> CTE:
    """Every event of the period with what the funnel needs to know about its teacher.

    Window functions only (no joins), all over one ordering — by teacher, non-moves before
    moves (step, linked), then time — so the database sorts the period's events once: her
    flags and her last scenario over the whole partition, and for a move, when her next
    move came (the next row, since all her moves come last).
    """
    since, until = period.utc_bounds
    e = _events.c
    # Literal SQL again: with parameters, each window's ORDER BY would differ (`IN (?, ?)` is a
    # new pair of variables each time) and the database would sort once per window.
    is_move = e.kind.in_([literal_column(f"'{STEP}'"), literal_column(f"'{LINKED}'")])
    ordered: Window = {"partition_by": e.user_id, "order_by": (is_move, e.at, e.id)}
    whole: Window = {**ordered, "rows": (None, None)}
    latest_named = case((e.scenario.is_not(None), latest_key(e.at, e.id) + e.scenario))
    rows = (
        select(
            e.id,
            e.at,
            e.user_id,
            e.kind,
            e.step,
            e.value,
            func.max(case((e.kind == STARTED, 1), else_=0)).over(**whole).label("started"),
            func.max(case((e.kind == LINKED, 1), else_=0)).over(**whole).label("linked"),
            func.max(latest_named).over(**whole).label("named"),
            func.row_number().over(**ordered).label("head"),  # 1 on one event per teacher
            case((is_move, func.lead(e.at).over(**ordered))).label("left_at"),
        )
        .where(e.at >= since, e.at < until, *([e.user_id.in_(users)] if users is not None else []))
        .subquery("flagged")
    )
    r = rows.c
    teacher_scenario = func.coalesce(func.substr(r.named, LATEST_KEY_LENGTH + 1), _UNKNOWN)
    return select(
        *(c for c in r if c.name != "named"), teacher_scenario.label("teacher_scenario")
    ).cte("event_rows")


def _statement(
    period: Period,
    step_order: Sequence[str],
    users: Select | None = None,
    *,
    each_stay: bool = False,
) -> CompoundSelect:
    """One statement, its sections told apart by the first column (the CTE is computed once):
    `totals` per scenario, `counted` handoffs / refusals / ratings per scenario, step and kind,
    `reached` teachers per step, `stay` the rows a median needs, `position` for the steps
    `step_order` does not know.

    From the events of `users` only when given (the teachers the period cuts through); the
    others come from the counts and their facts (`_read`), and every stay of both goes into
    the medians — or, with `each_stay`, each of `users`' stays comes back as an `each stay`
    row, for `_facts_medians` to merge with the facts' stays."""
    rows = _event_rows(period, users)
    r = rows.c
    scenario = r.teacher_scenario
    in_cohort_step = and_(r.started == 1, r.kind == STEP, r.step.is_not(None))

    def section(name: str) -> Any:
        return literal_column(f"'{name}'").label("section")

    totals = (
        select(
            section("totals"),
            scenario,
            _NONE,
            _NONE,
            *_numbers(func.count(), func.sum(r.started), func.sum(r.started * r.linked)),
        )
        .where(r.head == 1)
        .group_by(scenario)
    )
    step_or_none = func.coalesce(r.step, _NO_STEP)
    counted = (
        select(
            section("counted"),
            scenario,
            step_or_none,
            r.kind,
            *_numbers(func.count(), func.count(r.value), func.sum(r.value)),
        )
        .where(r.kind.in_((HANDOFF, REFUSAL, RATING)))
        .group_by(scenario, step_or_none, r.kind)
    )
    reached = (
        select(
            section("reached"), scenario, r.step, _NONE, *_numbers(func.count(distinct(r.user_id)))
        )
        .where(in_cohort_step)
        .group_by(scenario, r.step)
    )
    stay_us = epoch_us(r.left_at) - epoch_us(r.at)
    from_events = select(scenario.label("scenario"), r.step, stay_us.label("stay")).where(
        in_cohort_step, r.left_at.is_not(None)
    )
    stay: Select
    if each_stay:
        stay = select(section("each stay"), scenario, r.step, _NONE, *_numbers(stay_us)).where(
            in_cohort_step, r.left_at.is_not(None)
        )
    else:
        every_stay: Select | CompoundSelect = from_events
        if users is not None:
            every_stay = union_all(from_events, _facts_stays(period))
        stays = every_stay.subquery("stays")
        middles = order_statistic_rows(
            stays, stays.c.stay, (stays.c.scenario, stays.c.step)
        ).subquery("middles")
        m = middles.c
        stay = select(
            section("stay"), m.scenario, m.step, _NONE, *_numbers(m.value, m.rank, m.count)
        )
    return union_all(totals, counted, reached, stay, _positions(period, rows, step_order))


def _held(table: Any, period: Period) -> ColumnElement[bool]:
    """Rows of teachers whose every event lies in the period."""
    since, until = period.utc_bounds
    return and_(table.c.first_at >= since, table.c.last_at < until)


def _cut(period: Period) -> Select:
    """Teachers with events both in the period and outside it: read from their events."""
    since, until = period.utc_bounds
    t = _teachers.c
    return select(t.user_id).where(
        t.last_at >= since, t.first_at < until, or_(t.first_at < since, t.last_at >= until)
    )


def _facts_stays(period: Period) -> Select:
    f = _facts.c
    return select(f.scenario, f.step, f.stay_us).where(
        _held(_facts, period), f.kind == STEP, f.stay_us.is_not(None)
    )


def _positions(period: Period, rows: CTE, step_order: Sequence[str]) -> Select:
    """For steps outside `step_order` (rare: help screens and the like), each teacher's first
    visit and its position among the steps she had visited before it in the period."""
    since, _until = period.utc_bounds
    r = rows.c
    # The table itself through its user_id index, not the CTE: a few rows per look-up. Every
    # other condition sits inside CASE so that no planner prefers the (kind, at) index.
    earlier = _events.alias("earlier")
    hers = earlier.c.user_id == r.user_id
    before = and_(
        earlier.c.kind == STEP,
        earlier.c.at >= since,
        or_(earlier.c.at < r.at, and_(earlier.c.at == r.at, earlier.c.id < r.id)),
    )
    revisits = (
        select(func.count(case((and_(before, earlier.c.step == r.step), 1))))
        .where(hers)
        .scalar_subquery()
    )
    position = (
        select(func.count(distinct(case((before, earlier.c.step))))).where(hers)
    ).scalar_subquery()
    unknown = r.step.not_in(list(step_order)) if step_order else true()
    return (
        select(
            literal_column("'position'").label("section"),
            r.teacher_scenario,
            r.step,
            _NONE,
            *_numbers(func.sum(position), func.count()),
        )
        .where(r.started == 1, r.kind == STEP, r.step.is_not(None), unknown, revisits == 0)
        .group_by(r.teacher_scenario, r.step)
    )


async def load_funnel(
    db: AsyncEngine | AsyncConnection | AsyncSession,
    period: Period,
    *,
    step_order: Sequence[str] = (),
    facts: bool = True,
) -> FunnelReport:
    """The funnel report of `period`, aggregated by the database behind `db`.

    With `facts` (the default) the per-teacher facts are caught up first (facts.py) and read
    for the teachers the period holds whole; the others' events are read as they are.
    Without, every event of the period is read (the reference the facts are tested against)."""
    if isinstance(db, AsyncEngine):
        async with db.begin() as connection:
            result = await _read(connection, period, step_order, facts)
    elif isinstance(db, AsyncSession):
        result = await _read(await db.connection(), period, step_order, facts)
        await db.commit()  # the facts caught up (a report's session holds nothing else)
    else:
        result = await _read(db, period, step_order, facts)
    return _assemble(period, _merged(result), step_order)


async def _read(
    connection: AsyncConnection, period: Period, step_order: Sequence[str], facts: bool
) -> list[Any]:
    if not facts:
        return list((await connection.execute(_statement(period, step_order))).all())
    if connection.dialect.name == "postgresql":
        # Short statements estimated far above what they cost (the cut teachers' one, with
        # its correlated look-ups): PostgreSQL compiled them with JIT, 0.21 s of that one's
        # 0.28 s at 20,000 teachers. For the report's transaction only.
        await connection.execute(text("SET LOCAL jit = off"))
    await catch_up(connection)
    # The teachers the period holds whole: those whose days lie in its whole days from the
    # counts summed per day, the others (her first or last day cut by a bound) from her facts.
    figures: dict[tuple[str, str, str], list[int]] = defaultdict(lambda: [0, 0, 0])
    await _add_counts(connection, period, figures)
    await _add_edges(connection, period, figures)
    rows, stays = _rows(figures, step_order)
    if await _any_cut(connection, period):
        # Her events for each teacher the period cuts through.
        cut = await connection.scalar(
            select(func.count()).select_from(_cut(period).limit(FEW_CUT + 1).subquery())
        )
        if (cut or 0) > FEW_CUT:  # the medians rank every stay of the period
            statement = _statement(period, step_order, _cut(period))
            return rows + list((await connection.execute(statement)).all())
        statement = _statement(period, step_order, _cut(period), each_stay=True)
        result = list((await connection.execute(statement)).all())
        theirs: dict[tuple[str, str], list[int]] = defaultdict(list)
        for section, scenario, step, _kind, stay, _, _ in result:
            if section == "each stay":
                theirs[(scenario, step)].append(int(stay))
        rows += [row for row in result if row[0] != "each stay"]
        return rows + await _facts_medians(connection, _held(_facts, period), stays, theirs)
    # No teacher cut: the medians need no sort, one or two stays read at their offset in the
    # stays index. When the period holds every teacher, no row needs its bounds compared.
    outside = await _exists(connection, _outside(period))
    held = _held(_facts, period) if outside else true()
    return rows + await _facts_medians(connection, held, stays)


def _whole_days(period: Period) -> tuple[int, int]:
    """The first whole UTC day of the period and the day after its last whole one."""
    since, until = period.utc_bounds
    return -((EPOCH - since) // DAY), (until - EPOCH) // DAY


async def _add_counts(
    connection: AsyncConnection, period: Period, figures: dict[tuple[str, str, str], list[int]]
) -> None:
    """The counts of the teachers whose first and last days lie in the period's whole days."""
    first, after = _whole_days(period)
    c = _counts.c
    summed = await connection.execute(
        select(c.section, c.scenario, c.step, func.sum(c.n), func.sum(c.a), func.sum(c.b))
        .where(c.first_day >= first, c.last_day < after)
        .group_by(c.section, c.scenario, c.step)
    )
    for section, scenario, step, n, a, b in summed.all():
        _add(figures[(section, scenario, step)], int(n), int(a), int(b))


def _edges(period: Period) -> CompoundSelect:
    """Teachers the period holds whole but whose first or last day it cuts."""
    first, after = _whole_days(period)
    t = _teachers.c
    held = _held(_teachers, period)
    return union(
        select(t.user_id).where(held, t.first_at < EPOCH + first * DAY),
        select(t.user_id).where(held, t.last_at >= EPOCH + after * DAY),
    )


async def _add_edges(
    connection: AsyncConnection, period: Period, figures: dict[tuple[str, str, str], list[int]]
) -> None:
    """The figures of the `_edges` teachers, from their facts."""
    edges = _edges(period).subquery("edges")
    t, f = _teachers.c, _facts.c
    started, linked = case((t.started, 1), else_=0), case((t.linked, 1), else_=0)
    totals = await connection.execute(
        select(t.scenario, func.count(), func.sum(started), func.sum(started * linked))
        .where(t.user_id.in_(select(edges.c.user_id)))
        .group_by(t.scenario)
    )
    for scenario, n, a, b in totals.all():
        _add(figures[("teachers", scenario, "")], int(n), int(a), int(b))
    stayed = case((f.stay_us.is_not(None), 1), else_=0).label("stayed")
    grouped = await connection.execute(
        select(
            f.kind,
            f.scenario,
            f.step,
            f.first_visit,
            stayed,
            func.count(),
            func.count(f.value),
            func.sum(f.value),
            func.sum(f.position),
        )
        .where(f.user_id.in_(select(edges.c.user_id)))
        .group_by(f.kind, f.scenario, f.step, f.first_visit, stayed)
    )
    for kind, scenario, step, first_visit, stay, n, valued, values, positions in grouped.all():
        if kind != STEP:
            _add(figures[(kind, scenario, step or "")], int(n), int(valued), int(values or 0))
            continue
        if first_visit:
            _add(figures[("visit", scenario, step)], int(n), int(positions or 0))
        if stay:
            _add(figures[("stay", scenario, step)], int(n))


def _add(figure: list[int], n: int, a: int = 0, b: int = 0) -> None:
    figure[0] += n
    figure[1] += a
    figure[2] += b


def _rows(
    figures: dict[tuple[str, str, str], list[int]], step_order: Sequence[str]
) -> tuple[list[Any], dict[tuple[str, str], int]]:
    """The figures as `_statement`'s section rows, and the number of stays per scenario and
    step."""
    known = set(step_order)
    rows: list[Any] = []
    stays: dict[tuple[str, str], int] = {}
    for (section, scenario, step), (n, a, b) in figures.items():
        if not n:
            continue
        if section == "teachers":
            rows.append(("totals", scenario, None, None, n, a, b))
        elif section == "visit":
            rows.append(("reached", scenario, step, None, n, None, None))
            if step not in known:
                rows.append(("position", scenario, step, None, a, n, None))
        elif section == "stay":
            stays[(scenario, step)] = n
        else:
            rows.append(("counted", scenario, step, section, n, a, b if a else None))
    return rows, stays


async def _exists(connection: AsyncConnection, teachers: Select) -> bool:
    return (await connection.scalar(teachers.limit(1))) is not None


async def _any_cut(connection: AsyncConnection, period: Period) -> bool:
    """Whether `_cut` holds a teacher: one who started before the period and was still there
    in it, or one who started in it and was still there after. Each look-up walks one index
    range (the other bound inside CASE, where no planner uses it for a wider range)."""
    since, until = period.utc_bounds
    t = _teachers.c
    # From the bound outwards: a teacher cut by it is most likely one close to it.
    before = (
        select(t.user_id)
        .where(t.first_at < since, case((t.last_at >= since, 1)) == 1)
        .order_by(t.first_at.desc())
    )
    after = (
        select(t.user_id)
        .where(t.last_at >= until, case((and_(t.first_at >= since, t.first_at < until), 1)) == 1)
        .order_by(t.last_at)
    )
    return await _exists(connection, before) or await _exists(connection, after)


def _outside(period: Period) -> Select:
    """Teachers with no event in the period (their facts are skipped, row by row)."""
    since, until = period.utc_bounds
    t = _teachers.c
    return select(t.user_id).where(or_(t.last_at < since, t.first_at >= until))


async def _facts_medians(
    connection: AsyncConnection,
    held: ColumnElement[bool],
    stays: dict[tuple[str, str], int],
    theirs: dict[tuple[str, str], list[int]] | None = None,
) -> list[Any]:
    """`stay` rows: per scenario and step, the one or two middle stays of the facts (`stays`
    counts them) and of `theirs` (a few cut teachers' stays, from their events).

    The facts' stays are read at their offset in the stays index (no sort, and no ranking of
    every stay: that alone took longer than the rest of the report). With m of `theirs`, at
    most m of them come before the middle: the facts' stays from m before the middle on,
    merged with theirs, hold it."""
    f = _facts.c
    theirs = theirs or {}
    rows: list[Any] = []
    for scenario, step in sorted(stays.keys() | theirs.keys()):
        few = sorted(theirs.get((scenario, step), ()))
        count = stays.get((scenario, step), 0) + len(few)
        low, high = (count + 1) // 2, (count + 2) // 2  # 1-based ranks of the middle
        skipped = max(0, low - 1 - len(few))  # facts' stays all before the middle
        values = (
            [
                *await connection.scalars(
                    select(f.stay_us)
                    .where(
                        held,
                        f.kind == STEP,
                        f.scenario == scenario,
                        f.step == step,
                        f.stay_us.is_not(None),
                    )
                    .order_by(f.stay_us)
                    .limit(high - skipped)
                    .offset(skipped)
                )
            ]
            if (scenario, step) in stays
            else []
        )
        merged = sorted([*values, *few])
        for rank in sorted({low, high}):
            rows.append(("stay", scenario, step, None, merged[rank - 1 - skipped], rank, count))
    return rows


_ADDITIVE = {"totals": 1, "counted": 3, "reached": 2, "position": 2}  # key columns per section


def _merged(result: Sequence[Any]) -> dict[str, list[Any]]:
    """Rows by section; a key that both the facts and the events gave is summed (their
    teachers are disjoint, so counts and sums add up)."""
    sections: dict[str, list[Any]] = defaultdict(list)
    sums: dict[tuple[str, tuple[Any, ...]], list[Any]] = {}
    for section, *row in result:
        width = _ADDITIVE.get(section)
        if width is None:
            sections[section].append(row)
            continue
        key = (section, tuple(row[:width]))
        if key not in sums:
            sums[key] = list(row)
            sections[section].append(sums[key])
            continue
        merged = sums[key]
        for index in range(width, len(row)):
            if row[index] is not None:
                merged[index] = int(merged[index] or 0) + int(row[index])
    return sections


def _assemble(
    period: Period, sections: dict[str, list[Any]], step_order: Sequence[str]
) -> FunnelReport:
    funnels = {
        scenario: ScenarioFunnel(scenario, started=int(started or 0), completed=int(linked or 0))
        for scenario, _step, _kind, _teachers, started, linked in sections["totals"]
    }
    handoffs: dict[str, dict[str, int]] = defaultdict(dict)
    refusals: dict[str, dict[str, int]] = defaultdict(dict)
    rating_sums: dict[str, tuple[int, int]] = {}
    for scenario, step, kind, events, values, total in sections["counted"]:
        if kind == HANDOFF:
            handoffs[scenario][step] = int(events)
        elif kind == REFUSAL:
            refusals[scenario][step] = int(events)
        else:
            count, value_sum = rating_sums.get(scenario, (0, 0))
            rating_sums[scenario] = (count + int(values), value_sum + int(total or 0))
    reached: dict[str, dict[str, int]] = defaultdict(dict)
    for scenario, step, _kind, teachers, _, _ in sections["reached"]:
        reached[scenario][step] = int(teachers)
    positions: dict[tuple[str, str], float] = {
        (scenario, step): int(total) / int(count)
        for scenario, step, _kind, total, count, _ in sections["position"]
    }
    medians = OrderStatistics(
        (
            (scenario, step, value, rank, count)
            for scenario, step, _, value, rank, count in sections["stay"]
        ),
        key_columns=2,
    )

    rank = {step: index for index, step in enumerate(step_order)}
    report = FunnelReport(period=period, scenarios=[])
    every_count = every_sum = 0
    for scenario in sorted(funnels):
        funnel = funnels[scenario]
        visited = reached[scenario]
        # A step of the dialogs by their order; any other by its average position (those
        # are after all the known ones, so their positions never compare with a known step's).
        steps = sorted(
            visited,
            key=lambda s: (rank.get(s, len(rank)), positions.get((scenario, s), 0.0), s),
        )
        extra = sorted((set(handoffs[scenario]) | set(refusals[scenario])) - set(steps) - {""})
        for step in [*steps, *extra]:
            teachers = visited.get(step, 0)
            funnel.steps.append(
                StepStats(
                    step=step,
                    reached=teachers,
                    conversion=percent(teachers, funnel.started),
                    median_seconds=medians.median(scenario, step),
                    handoffs=handoffs[scenario].get(step, 0),
                    refusals=refusals[scenario].get(step, 0),
                )
            )
        funnel.conversion = percent(funnel.completed, funnel.started)
        funnel.handoffs = sum(handoffs[scenario].values())
        count, value_sum = rating_sums.get(scenario, (0, 0))
        funnel.ratings = count
        funnel.average_rating = round(value_sum / count, 2) if count else None
        every_count, every_sum = every_count + count, every_sum + value_sum
        report.scenarios.append(funnel)
    report.ratings = every_count
    report.average_rating = round(every_sum / every_count, 2) if every_count else None
    report.handoffs = sum(f.handoffs for f in report.scenarios)
    return report
