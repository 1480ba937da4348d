"""The helpdesk figures aggregated in SQL equal a plain Python computation over the same rows.

Generated tickets (answered or not, taken, closed by operators or teachers, rated) and rating
events, on SQLite and PostgreSQL (tests/analytics/conftest.py).
"""

from __future__ import annotations

import math
import statistics
from collections import defaultdict
from datetime import datetime, time, timedelta

import pytest

from bench.stats_data import ticket_rows
from services.analytics import Period, parse_period
from services.helpdesk.stats import HelpdeskReport, load_helpdesk_report
from services.storage.db import create_engine, create_session_factory
from tests.analytics.conftest import NOW, StatsDatabase
from tests.analytics.test_funnel_sql import PERIODS as FUNNEL_PERIODS

PERIODS = {
    **FUNNEL_PERIODS,
    # Local days from a Wednesday: weeks count from Monday 00:00 in Moscow, not in UTC.
    "moscow days": parse_period("2026-11-04..2026-11-20", now=NOW, timezone="Europe/Moscow"),
}


def _seconds(delta: timedelta) -> float:
    return delta.total_seconds()


def reference(stats_db: StatsDatabase, period: Period) -> dict:
    since, until = period.utc_bounds
    rows = list(ticket_rows(stats_db.dataset.tickets, NOW))
    opened = [r for r in rows if since <= r["opened_at"] < until]
    waits = sorted(
        _seconds(r["first_response_at"] - r["opened_at"]) for r in opened if r["first_response_at"]
    )
    open_now = [r for r in rows if r["status"] == "open"]
    operators: dict[int, dict] = defaultdict(lambda: {"taken": 0, "closed": 0, "waits": []})
    for r in opened:
        if r["assignee_id"]:
            operators[r["assignee_id"]]["taken"] += 1
        if r["closed_by"] == "operator" and r["closed_by_id"]:
            operators[r["closed_by_id"]]["closed"] += 1
        if r["first_responder_id"]:
            operators[r["first_responder_id"]]["waits"].append(
                _seconds(r["first_response_at"] - r["opened_at"])
            )
    local = period.since
    monday = datetime.combine(local.date() - timedelta(days=local.weekday()), time(), local.tzinfo)
    weeks: dict[int, list[int]] = defaultdict(list)
    for e in stats_db.dataset.events:
        if e["kind"] == "rating" and e["value"] is not None and since <= e["at"] < until:
            weeks[(e["at"] - monday) // timedelta(days=7)].append(e["value"])
    return {
        "opened": len(opened),
        "answered": len(waits),
        "median": statistics.median(waits) if waits else None,
        "p90": waits[math.ceil(0.9 * len(waits)) - 1] if waits else None,
        "open_now": len(open_now),
        "unanswered_now": sum(1 for r in open_now if not r["first_response_at"]),
        "oldest_wait": _seconds(NOW - min(r["opened_at"] for r in open_now)) if open_now else None,
        "operators": {
            operator_id: (
                figures["taken"],
                figures["closed"],
                len(figures["waits"]),
                statistics.median(figures["waits"]) if figures["waits"] else None,
            )
            for operator_id, figures in operators.items()
        },
        "weeks": [
            (
                monday.date() + timedelta(days=7 * index),
                len(values),
                round(statistics.fmean(values), 2),
            )
            for index, values in sorted(weeks.items())
        ],
    }


def as_dict(report: HelpdeskReport) -> dict:
    return {
        "opened": report.opened,
        "answered": report.answered,
        "median": report.median_first_response,
        "p90": report.p90_first_response,
        "open_now": report.open_now,
        "unanswered_now": report.unanswered_now,
        "oldest_wait": report.oldest_wait,
        "operators": {
            o.operator_id: (o.taken, o.closed, o.answered_first, o.median_first_response)
            for o in report.operators
        },
        "weeks": [(w.week_start, w.ratings, w.average) for w in report.weeks],
    }


@pytest.mark.parametrize("name", list(PERIODS))
async def test_sql_helpdesk_figures_equal_the_python_ones(
    stats_db: StatsDatabase, name: str
) -> None:
    period = PERIODS[name]
    engine = create_engine(stats_db.url)
    try:
        async with create_session_factory(engine)() as db:
            report = await load_helpdesk_report(db, period, now=NOW)
    finally:
        await engine.dispose()

    expected = reference(stats_db, period)
    assert as_dict(report) == expected
    if name == "moscow days":
        assert [w.week_start.isoformat() for w in report.weeks][:2] == ["2026-11-02", "2026-11-09"]
    if name == "everything":  # the data set is rich enough for the comparison to mean something
        assert report.opened > 20 and 0 < report.answered < report.opened
        assert len(report.operators) == 4 and len(report.weeks) >= 3
        assert report.open_now > 0 and report.oldest_wait is not None
