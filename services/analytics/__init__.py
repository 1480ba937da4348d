"""Reports for the people who run the service: the linking funnel, its CSV and its chart.

`load_report` aggregates the period's `analytics_events` in SQL (`funnel.py`); the definitions
of every figure are in that module's docstring.
"""

from __future__ import annotations

from collections.abc import Sequence

from services.analytics.chart import funnel_chart_png
from services.analytics.export import CSV_HEADER, funnel_csv
from services.analytics.funnel import load_funnel
from services.analytics.period import Period, parse_period
from services.analytics.report import (
    UNKNOWN_SCENARIO,
    FunnelReport,
    ScenarioFunnel,
    StepStats,
)
from services.storage.link_sessions import LinkSessionRepository
from services.storage.sqlite_one_hop import off_the_loop

__all__ = [
    "CSV_HEADER",
    "UNKNOWN_SCENARIO",
    "FunnelReport",
    "Period",
    "ScenarioFunnel",
    "StepStats",
    "funnel_chart_png",
    "funnel_csv",
    "load_funnel",
    "load_report",
    "parse_period",
]


async def load_report(
    sessions: LinkSessionRepository, period: Period, *, step_order: Sequence[str] = ()
) -> FunnelReport:
    """The funnel of `period`, after the events queued before this call are written."""
    await sessions.writer.flush()
    # Aggregates over the period's facts (and catches them up): not in the event loop's thread.
    with off_the_loop():
        async with sessions.session_factory() as db:
            return await load_funnel(db, period, step_order=step_order)
