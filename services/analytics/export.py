"""The funnel report as CSV, for /export: a few rows per scenario, built from the aggregates."""

from __future__ import annotations

import csv
import io

from services.analytics.report import FunnelReport

CSV_HEADER = (
    "scenario",
    "stage",
    "teachers",
    "conversion_pct",
    "median_seconds",
    "handoffs",
    "refusals",
    "ratings",
    "average_rating",
)


def _number(value: float | None) -> str:
    if value is None:
        return ""
    return str(int(value)) if float(value).is_integer() else f"{value:.1f}"


def funnel_csv(report: FunnelReport) -> str:
    """The report as CSV: per scenario a `started` row, one row per step, a `completed` row."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_HEADER)
    for funnel in report.scenarios:
        started_pct = "100" if funnel.started else "0"
        writer.writerow([funnel.scenario, "started", funnel.started, started_pct, *[""] * 5])
        for step in funnel.steps:
            writer.writerow(
                [
                    funnel.scenario,
                    step.step,
                    step.reached,
                    _number(step.conversion),
                    _number(step.median_seconds),
                    step.handoffs,
                    step.refusals,
                    "",
                    "",
                ]
            )
        writer.writerow(
            [
                funnel.scenario,
                "completed",
                funnel.completed,
                _number(funnel.conversion),
                "",
                funnel.handoffs,
                sum(s.refusals for s in funnel.steps),
                funnel.ratings,
                _number(funnel.average_rating),
            ]
        )
    return out.getvalue()
