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
    true,
    union_all,
)
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession

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
from services.storage.models import AnalyticsEvent

STARTED, STEP, LINKED = "started", "step", "linked"
HANDOFF, REFUSAL, RATING = "handoff", "refusal", "rating"

_events = table_of(AnalyticsEvent)
# Literal SQL, not parameters: PostgreSQL matches GROUP BY expressions textually.
_UNKNOWN: ColumnElement[str] = literal_column(f"'{UNKNOWN_SCENARIO}'")
_NO_STEP: ColumnElement[str] = literal_column("''")
_NONE = null()


def _numbers(*values: Any) -> list[Any]:
    """Three BIGINT columns of a section (NULL where a section has fewer figures)."""
    padded = [*values, *[_NONE] * (3 - len(values))]
    return [cast(v, BigInteger).label(f"n{i}") for i, v in enumerate(padded)]


def _event_rows(period: Period) -> CTE:
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
        .where(e.at >= since, e.at < until)
        .subquery("flagged")
    )
    r = rows.c
    teacher_scenario = func.coalesce(func.substr(r.named, LATEST_KEY_LENGTH + 1), _UNKNOWN)
    return select(
        *(c for c in r if c.name != "named"), teacher_scenario.label("teacher_scenario")
    ).cte("event_rows")


def _statement(period: Period, step_order: Sequence[str]) -> CompoundSelect:
    """One statement, its sections told apart by the first column (the CTE is computed once):
    `totals` per scenario, `counted` handoffs / refusals / ratings per scenario, step and kind,
    `reached` teachers per step, `stay` the rows a median needs, `position` for the steps
    `step_order` does not know."""
    rows = _event_rows(period)
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
    stays = (
        select(
            scenario.label("scenario"), r.step, (epoch_us(r.left_at) - epoch_us(r.at)).label("stay")
        )
        .where(in_cohort_step, r.left_at.is_not(None))
        .subquery("stays")
    )
    middles = order_statistic_rows(stays, stays.c.stay, (stays.c.scenario, stays.c.step)).subquery(
        "middles"
    )
    m = middles.c
    stay = select(section("stay"), m.scenario, m.step, _NONE, *_numbers(m.value, m.rank, m.count))
    return union_all(totals, counted, reached, stay, _positions(period, rows, step_order))


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
) -> FunnelReport:
    """The funnel report of `period`, aggregated by the database behind `db`."""
    statement = _statement(period, step_order)
    if isinstance(db, AsyncEngine):
        async with db.connect() as connection:
            result = (await connection.execute(statement)).all()
    else:
        result = (await db.execute(statement)).all()
    sections: dict[str, list[Any]] = defaultdict(list)
    for section, *row in result:
        sections[section].append(row)
    return _assemble(period, sections, step_order)


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
