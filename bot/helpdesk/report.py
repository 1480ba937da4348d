"""The helpdesk part of /stats as Telegram HTML (figures from services/helpdesk/stats.py)."""

from __future__ import annotations

import html
from datetime import timedelta

from aiogram.utils.i18n import gettext as _

from bot.helpdesk.card import humanize_duration
from services.helpdesk.stats import HelpdeskReport

MAX_OPERATORS = 10
MAX_WEEKS = 8


def wait_text(seconds: float | None) -> str:
    """«45 с» under a minute, else «1 ч 5 мин» / «2 дн 3 ч»; «—» when there is nothing."""
    if seconds is None:
        return "—"
    if seconds < 60:
        return _("{s} s").format(s=round(seconds))
    return humanize_duration(timedelta(seconds=seconds))


def render_helpdesk(report: HelpdeskReport) -> str:
    lines = [
        _("🙋 <b>Helpdesk</b> · {period}").format(period=report.period.label),
        _("Tickets: {opened} · answered: {answered} · not yet: {unanswered}").format(
            opened=report.opened, answered=report.answered, unanswered=report.unanswered
        ),
        _("First response: median {median} · 90% within {p90}").format(
            median=wait_text(report.median_first_response),
            p90=wait_text(report.p90_first_response),
        ),
        _("Open now: {open} (no answer yet: {unanswered}) · longest wait: {wait}").format(
            open=report.open_now,
            unanswered=report.unanswered_now,
            wait=wait_text(report.oldest_wait),
        ),
    ]
    if report.operators:
        lines.append(_("<b>Operators</b>"))
    for operator in report.operators[:MAX_OPERATORS]:
        lines.append(
            _("{name}: took {taken} · closed {closed} · answered first {first} ({median})").format(
                name=html.escape(operator.name),
                taken=operator.taken,
                closed=operator.closed,
                first=operator.answered_first,
                median=wait_text(operator.median_first_response),
            )
        )
    if report.weeks:
        lines.append(_("<b>Ratings by week</b>"))
    for week in report.weeks[-MAX_WEEKS:]:
        lines.append(
            _("week of {day}: {average} ({count})").format(
                day=week.week_start.strftime("%d.%m"),
                average=f"{week.average:g}",
                count=week.ratings,
            )
        )
    return "\n".join(lines)
