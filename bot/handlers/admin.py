"""/stats and /export for the people who run the service (only `settings.admin_ids`).

`/stats [today|7d|30d|YYYY-MM-DD..YYYY-MM-DD]` answers with the funnel per scenario, the
helpdesk's figures (first response, backlog, operators, ratings by week) and a chart;
`/export [period]` sends the funnel as a CSV file. Anyone else gets nothing from here, and
admins get them only in their private chat with the bot: never in a group, where other members
would read the figures.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

from aiogram import F, Router
from aiogram.enums import ChatType
from aiogram.filters import BaseFilter, Command, CommandObject
from aiogram.types import BufferedInputFile, Message
from aiogram.utils.i18n import gettext as _

from bot.config import Settings
from bot.dialogs.steps import STEP_ORDER
from bot.helpdesk.card import scenario_label, step_label
from bot.helpdesk.report import render_helpdesk
from services.analytics import (
    FunnelReport,
    Period,
    funnel_chart_png,
    funnel_csv,
    load_report,
    parse_period,
)
from services.helpdesk.stats import load_helpdesk_report
from services.storage.sqlite_one_hop import off_the_loop

ADMIN_ROUTER_NAME = "admin"
TEXT_LIMIT = 4000


class IsAdmin(BaseFilter):
    async def __call__(self, message: Message, settings: Settings) -> bool:
        return message.from_user is not None and message.from_user.id in settings.admin_ids


def _now(data: dict[str, Any]) -> datetime:
    clock = data.get("clock")
    return clock.now() if clock is not None else datetime.now(UTC)


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    seconds = round(seconds)
    minutes, seconds = divmod(seconds, 60)
    return (
        _("{m} min {s} s").format(m=minutes, s=seconds) if minutes else _("{s} s").format(s=seconds)
    )


def render_stats(report: FunnelReport) -> str:
    lines = [
        _("📊 <b>Funnel</b> · {period}").format(period=report.period.label),
        _("Handoffs: {handoffs} · ratings: {ratings} · average rating: {average}").format(
            handoffs=report.handoffs,
            ratings=report.ratings,
            average=f"{report.average_rating:g}" if report.average_rating is not None else "—",
        ),
    ]
    if not report.scenarios:
        lines.append(_("No events in this period."))
    for funnel in report.scenarios:
        lines.append("")
        lines.append(f"<b>{scenario_label(funnel.scenario)}</b>")
        lines.append(_("started: {n}").format(n=funnel.started))
        for step in funnel.steps:
            lines.append(
                _("{step}: {n} ({pct}%) · median {median} · handoffs {handoffs}").format(
                    step=step_label(step.step),
                    n=step.reached,
                    pct=f"{step.conversion:g}",
                    median=_duration(step.median_seconds),
                    handoffs=step.handoffs,
                )
            )
        lines.append(
            _("completed: {n} ({pct}%)").format(n=funnel.completed, pct=f"{funnel.conversion:g}")
        )
        if funnel.average_rating is not None:
            lines.append(
                _("average rating: {average} ({count})").format(
                    average=f"{funnel.average_rating:g}", count=funnel.ratings
                )
            )
    return _fit("\n".join(lines))


def _fit(text: str) -> str:
    return text if len(text) <= TEXT_LIMIT else text[: TEXT_LIMIT - 1] + "…"


async def _report(
    message: Message, command: CommandObject, settings: Settings, data: dict[str, Any]
) -> FunnelReport | None:
    try:
        period: Period = parse_period(
            command.args, now=_now(data), timezone=settings.helpdesk_timezone
        )
    except ValueError:
        await message.answer(_("Period: today, 7d, 30d or YYYY-MM-DD..YYYY-MM-DD."))
        return None
    return await load_report(data["sessions"], period, step_order=STEP_ORDER)


def _chart_labels(report: FunnelReport) -> dict[str, str]:
    labels = {"started": _("teachers who started"), "completed": _("teachers who linked")}
    for funnel in report.scenarios:
        labels[funnel.scenario] = scenario_label(funnel.scenario)
        for step in funnel.steps:
            labels[step.step] = step_label(step.step)
    return labels


async def _helpdesk_text(period: Period, settings: Settings, data: dict[str, Any]) -> str | None:
    """The helpdesk section, when there is a helpdesk or there were tickets."""
    with off_the_loop():  # aggregates over the period's tickets: not in the event loop's thread
        async with data["sessions"].session_factory() as db:
            report = await load_helpdesk_report(db, period, now=_now(data))
    if settings.helpdesk_chat_id is None and not (report.opened or report.open_now):
        return None
    return render_helpdesk(report)


async def stats(message: Message, command: CommandObject, settings: Settings, **data: Any) -> None:
    report = await _report(message, command, settings, data)
    if report is None:
        return
    parts = [render_stats(report)]
    helpdesk = await _helpdesk_text(report.period, settings, data)
    if helpdesk is not None:
        parts.append(helpdesk)
    await message.answer(_fit("\n\n".join(parts)))
    if report.scenarios:
        # Drawing costs tens of milliseconds of CPU: off the event loop, other updates go on.
        chart = await asyncio.to_thread(
            funnel_chart_png,
            report,
            title=_("Funnel · {period}").format(period=report.period.label),
            labels=_chart_labels(report),
        )
        await message.answer_photo(BufferedInputFile(chart, filename="funnel.png"))


async def export(message: Message, command: CommandObject, settings: Settings, **data: Any) -> None:
    report = await _report(message, command, settings, data)
    if report is None:
        return
    name = f"funnel_{report.period.label.replace('..', '_')}.csv"
    await message.answer_document(
        BufferedInputFile(funnel_csv(report).encode("utf-8"), filename=name),
        caption=_("Funnel · {period}").format(period=report.period.label),
    )


def create_admin_router() -> Router:
    router = Router(name=ADMIN_ROUTER_NAME)
    router.message.filter(F.chat.type == ChatType.PRIVATE)
    router.message.register(stats, Command("stats"), IsAdmin())
    router.message.register(export, Command("export"), IsAdmin())
    return router
