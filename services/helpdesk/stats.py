"""Helpdesk figures for /stats: first response, backlog, operators, ratings week by week.

Definitions (tickets opened in the period [since, until), unless said otherwise):
- *first response*: the first operator message relayed to the teacher after the ticket opened
  (`Ticket.first_response_at`; internal notes and deliveries Telegram refused do not count).
  Its time runs from the opening, on the wall clock: nights and weekends count. Median and
  90th percentile (nearest rank) over the answered tickets; `unanswered` counts the others;
- *backlog*, now whatever the period: open tickets, those with no answer yet, the longest wait;
- *per operator*: tickets she holds (assignee), closed with /close, answered first, and the
  median of those first responses;
- *ratings by week*: the ratings given in the period (the `rating` events the funnel counts),
  per week from Monday 00:00 in the period's time zone (weeks of 7 × 24 h: exact where the
  clocks do not change, as in Moscow).

Aggregated by the database (services/analytics/sql.py); only a few rows per operator and week
reach Python.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.analytics.period import Period
from services.analytics.sql import OrderStatistics, epoch_us, order_statistic_rows
from services.helpdesk.models import OPEN, Ticket
from services.storage.db import table_of
from services.storage.models import AnalyticsEvent

FIRST_RESPONSE_PERCENTILE = 90
WEEK = timedelta(days=7)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)
_CLOSED_BY_OPERATOR = "operator"  # services.helpdesk.tickets.ClosedBy.OPERATOR
_RATING = "rating"  # services.storage.link_sessions.EventKind.RATING


@dataclass
class OperatorFigures:
    operator_id: int
    name: str
    taken: int = 0
    closed: int = 0
    answered_first: int = 0
    median_first_response: float | None = None  # seconds


@dataclass(frozen=True)
class WeeklyRatings:
    week_start: date  # a Monday, in the period's time zone
    ratings: int
    average: float


@dataclass
class HelpdeskReport:
    period: Period
    opened: int = 0
    answered: int = 0
    median_first_response: float | None = None  # seconds
    p90_first_response: float | None = None  # seconds
    open_now: int = 0
    unanswered_now: int = 0
    oldest_wait: float | None = None  # seconds the longest-waiting open ticket has waited
    operators: list[OperatorFigures] = field(default_factory=list)
    weeks: list[WeeklyRatings] = field(default_factory=list)

    @property
    def unanswered(self) -> int:
        return self.opened - self.answered


_tickets = table_of(Ticket)
_events = table_of(AnalyticsEvent)


def _week_origin(period: Period) -> datetime:
    """Monday 00:00 of the week the period starts in, in the period's time zone."""
    local = period.since
    monday = local.date() - timedelta(days=local.weekday())
    return datetime.combine(monday, time(), tzinfo=local.tzinfo)


def _statements(period: Period) -> dict[str, Any]:
    since, until = period.utc_bounds
    t = _tickets.c
    in_period = (t.opened_at >= since, t.opened_at < until)
    wait = (epoch_us(t.first_response_at) - epoch_us(t.opened_at)).label("wait")
    answered = select(t.first_responder_id, wait).where(
        *in_period, t.first_response_at.is_not(None)
    )
    answered_sq = answered.subquery("answered")
    by_responder = answered.where(t.first_responder_id.is_not(None)).subquery("by_responder")

    origin_us = (_week_origin(period) - _EPOCH) // _MICROSECOND
    week = ((epoch_us(_events.c.at) - origin_us) // (WEEK // _MICROSECOND)).label("week")
    return {
        "opened": select(func.count(), func.count(t.first_response_at)).where(*in_period),
        "overall": order_statistic_rows(
            answered_sq, answered_sq.c.wait, percentiles=(FIRST_RESPONSE_PERCENTILE,)
        ),
        "by_responder": order_statistic_rows(
            by_responder, by_responder.c.wait, (by_responder.c.first_responder_id,)
        ),
        "responders": select(t.first_responder_id, func.max(t.first_responder_name), func.count())
        .where(*in_period, t.first_responder_id.is_not(None))
        .group_by(t.first_responder_id),
        "taken": select(t.assignee_id, func.max(t.assignee_name), func.count())
        .where(*in_period, t.assignee_id.is_not(None))
        .group_by(t.assignee_id),
        "closed": select(t.closed_by_id, func.count())
        .where(*in_period, t.closed_by == _CLOSED_BY_OPERATOR, t.closed_by_id.is_not(None))
        .group_by(t.closed_by_id),
        "backlog": select(
            func.count(), func.count(t.first_response_at), func.min(t.opened_at)
        ).where(t.status == OPEN),
        "weeks": select(week, func.count(_events.c.value), func.sum(_events.c.value))
        .where(
            _events.c.at >= since,
            _events.c.at < until,
            _events.c.kind == _RATING,
            _events.c.value.is_not(None),
        )
        .group_by(week)
        .order_by(week),
    }


async def load_helpdesk_report(
    db: AsyncSession, period: Period, *, now: datetime
) -> HelpdeskReport:
    """The helpdesk figures of `period` (the backlog as of `now`, an aware moment)."""
    rows = {name: (await db.execute(s)).all() for name, s in _statements(period).items()}
    report = HelpdeskReport(period=period)
    opened, answered = rows["opened"][0]
    report.opened, report.answered = int(opened), int(answered)
    overall = OrderStatistics(rows["overall"], key_columns=0)
    report.median_first_response = overall.median()
    report.p90_first_response = overall.percentile(FIRST_RESPONSE_PERCENTILE)

    open_now, answered_now, oldest = rows["backlog"][0]
    report.open_now, report.unanswered_now = int(open_now), int(open_now) - int(answered_now)
    if oldest is not None:
        oldest = oldest.replace(tzinfo=UTC) if oldest.tzinfo is None else oldest  # SQLite
        report.oldest_wait = max(0.0, (now - oldest).total_seconds())

    operators: dict[int, OperatorFigures] = {}

    def operator(operator_id: int, name: str | None) -> OperatorFigures:
        figures = operators.setdefault(operator_id, OperatorFigures(operator_id, ""))
        figures.name = figures.name or name or str(operator_id)
        return figures

    by_responder = OrderStatistics(rows["by_responder"], key_columns=1)
    for operator_id, name, count in rows["responders"]:
        figures = operator(operator_id, name)
        figures.answered_first = int(count)
        figures.median_first_response = by_responder.median(operator_id)
    for operator_id, name, count in rows["taken"]:
        operator(operator_id, name).taken = int(count)
    for operator_id, count in rows["closed"]:
        operator(operator_id, None).closed = int(count)
    report.operators = sorted(
        operators.values(), key=lambda o: (-o.answered_first, -o.taken, -o.closed, o.name)
    )

    monday = _week_origin(period).date()
    report.weeks = [
        WeeklyRatings(monday + WEEK * int(index), int(count), round(int(total) / int(count), 2))
        for index, count, total in rows["weeks"]
    ]
    return report
