"""/queue for operators: the open tickets, the longest waiting first, as Telegram HTML."""

from __future__ import annotations

import html
from collections.abc import Sequence
from datetime import UTC, datetime

from aiogram.utils.i18n import gettext as _

from bot.helpdesk.card import (
    SCENARIO_LETTERS,
    humanize_duration,
    reason_label,
    short_name,
    step_label,
)
from services.helpdesk.models import Ticket

QUEUE_LIMIT = 30  # lines; the message stays far below Telegram's 4096 characters


def topic_link(chat_id: int, thread_id: int | None) -> str | None:
    """t.me link to a forum topic of a supergroup (`-100…` ids), None when there is none."""
    text = str(chat_id)
    if thread_id is None or not text.startswith("-100"):
        return None
    return f"https://t.me/c/{text[4:]}/{thread_id}"


def _aware(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment  # SQLite


def render_queue(
    tickets: Sequence[Ticket], total: int, *, now: datetime, chat_id: int | None
) -> str:
    if not tickets:
        return _("📋 No open tickets.")
    lines = [_("📋 <b>Open tickets: {total}</b>, the longest waiting first").format(total=total)]
    for ticket in tickets:
        number = f"#{ticket.id}"
        link = topic_link(chat_id, ticket.thread_id) if chat_id is not None else None
        if link:
            number = f'<a href="{link}">{number}</a>'
        letter = SCENARIO_LETTERS.get(ticket.scenario or "")
        step = step_label(ticket.step)
        where = f"{letter}: {step}" if letter else step
        who = (
            html.escape(ticket.assignee_name) if ticket.assignee_name else _("nobody has taken it")
        )
        answered = "" if ticket.first_response_at is not None else _(" · no answer yet")
        lines.append(
            _("{number} · {teacher} · waiting {wait} · {step} · {reason} · {who}{answered}").format(
                number=number,
                teacher=html.escape(short_name(ticket.teacher_name)),
                wait=humanize_duration(now - _aware(ticket.opened_at)),
                step=html.escape(where),
                reason=html.escape(reason_label(ticket.reason)),
                who=who,
                answered=answered,
            )
        )
    if total > len(tickets):
        lines.append(_("…and {more} more.").format(more=total - len(tickets)))
    return "\n".join(lines)
