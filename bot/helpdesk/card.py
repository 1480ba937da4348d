"""What operators see of a ticket: the topic name and the context card (HTML).

Operator texts are rendered in the helpdesk's language (the caller sets the locale). They speak
plainly: step names are the step table's human labels (bot/dialogs/steps.py), never internal state
names; an unknown scenario is simply left out of the topic's name. The card's «recent
conversation» is what happened before the ticket opened: what she writes afterwards is relayed
below the card, so it is shown once.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from aiogram.utils.i18n import gettext as _
from aiogram.utils.i18n import lazy_gettext as __

from bot.dialogs import steps
from bot.dialogs.guide_screens import SCREENS, screen_card_name

GUIDE_STEP = "Guide:"  # + a screen of bot/dialogs/guide_screens.py

TOPIC_NAME_LIMIT = 128
CARD_LIMIT = 4000  # below Telegram's 4096, leaving room for HTML entities
TRANSCRIPT_LINE_LIMIT = 300

REASON_LABELS = {
    "help": __("from the help screen"),
    "free_text": __("asked in her own words"),
    "guide": __("from guide mode (she links in the e-journal's window)"),
}

SCENARIO_LETTERS = {"new_profile": "A", "existing_profile": "B", "registration": "A·R"}
SCENARIO_LABELS = {
    "new_profile": __("A: new Sferum profile"),
    "existing_profile": __("B: existing Sferum profile"),
    "registration": __("A: registration in VK ID"),
    "unknown": __("scenario not chosen yet"),
}


def step_label(step: str | None) -> str:
    """The step's short name from the step table (or the guide's window screen); «unknown
    step», never a state name."""
    if not step:
        return _("unknown step")
    screen = step.removeprefix(GUIDE_STEP)
    if step.startswith(GUIDE_STEP) and screen in SCREENS:  # the exact screen of the window
        return screen_card_name(screen)
    return steps.step_label(step) or _("unknown step")


def scenario_label(scenario: str | None) -> str:
    label = SCENARIO_LABELS.get(scenario or "unknown")
    return str(label) if label is not None else str(scenario)


def reason_label(reason: str | None) -> str:
    """How the teacher reached the helpdesk, in words."""
    label = REASON_LABELS.get(reason or "")
    return str(label) if label is not None else (reason or "—")


def short_name(full_name: str) -> str:
    """«Иванова Мария Петровна» → «Иванова М.»; a single word stays as it is."""
    words = full_name.split()
    if not words:
        return "?"
    if len(words) == 1:
        return words[0]
    return f"{words[0]} {words[1][0]}."


def topic_name(ticket_id: int, teacher_name: str, scenario: str | None, step: str | None) -> str:
    """«#12 · Иванова М. · A: код» (without the letter while the scenario is unknown), cut to
    Telegram's 128 characters."""
    letter = SCENARIO_LETTERS.get(scenario or "")
    where = f"{letter}: {step_label(step)}" if letter else step_label(step)
    name = f"#{ticket_id} · {short_name(teacher_name)} · {where}"
    return name if len(name) <= TOPIC_NAME_LIMIT else name[: TOPIC_NAME_LIMIT - 1] + "…"


def humanize_duration(delta: timedelta) -> str:
    minutes = max(0, int(delta.total_seconds() // 60))
    days, minutes = divmod(minutes, 24 * 60)
    hours, minutes = divmod(minutes, 60)
    if days:
        return _("{days} d {hours} h").format(days=days, hours=hours)
    if hours:
        return _("{hours} h {minutes} min").format(hours=hours, minutes=minutes)
    return _("{minutes} min").format(minutes=minutes)


@dataclass(frozen=True)
class TranscriptLine:
    author: str  # "teacher" | "bot"
    text: str


@dataclass(frozen=True)
class CardData:
    """Everything the card shows; built by the relay from the ticket, session and transcript."""

    ticket_id: int
    is_open: bool
    teacher_name: str
    telegram_name: str | None  # «Мария @maria»
    user_id: int | None  # for the link to her chat
    scenario: str | None
    step: str | None
    reason: str | None
    last_errors: Sequence[dict]
    phone_masked: str | None
    locale: str | None
    started_at: datetime | None
    codes_requested: int
    assignee_name: str | None
    notes: Sequence[str]
    transcript: Sequence[TranscriptLine]
    now: datetime
    topics: bool
    rating: int | None = None


def _errors_line(errors: Sequence[dict]) -> str:
    if not errors:
        return _("no errors")
    return ", ".join(
        f"{html.escape(str(e.get('code')))} ({html.escape(step_label(e.get('step')))})"
        for e in errors[-3:]
    )


def _telegram_link(card: CardData) -> str:
    """« · <a href="tg://user?id=…">Мария @maria</a>»: her name in Telegram, a tap opens her."""
    if card.user_id is None:
        return f" · {html.escape(card.telegram_name)}" if card.telegram_name else ""
    name = html.escape(card.telegram_name or _("Telegram profile"))
    return f' · <a href="tg://user?id={card.user_id}">{name}</a>'


def render_card(card: CardData) -> str:
    """The context card as Telegram HTML, kept under the message length limit."""
    esc = html.escape
    status = _("ticket open") if card.is_open else _("ticket closed")
    lines = [
        _("🆘 <b>Ticket #{number}</b> · {status}").format(number=card.ticket_id, status=status),
        _("Teacher: {name}").format(name=esc(card.teacher_name)) + _telegram_link(card),
        _("Scenario: {scenario}").format(scenario=esc(scenario_label(card.scenario))),
        _("Step: {step}").format(step=esc(step_label(card.step))),
        _("Last errors: {errors}").format(errors=_errors_line(card.last_errors)),
        _("Phone: {phone}").format(phone=esc(card.phone_masked or "—")),
        _("Language: {language}").format(language=esc(card.locale or "—")),
        _("Since the dialog started: {duration}").format(
            duration=humanize_duration(card.now - card.started_at) if card.started_at else "—"
        ),
        _("Codes requested: {count}").format(count=card.codes_requested),
        _("Operator: {operator}").format(
            operator=esc(card.assignee_name) if card.assignee_name else _("not assigned")
        ),
    ]
    if card.rating is not None:
        lines.append(_("Rating: {rating}/5").format(rating=card.rating))
    for note in card.notes[-3:]:
        lines.append(_("📝 Note: {text}").format(text=esc(note)))
    if not card.topics:
        lines.append(_("<i>Reply to this card or to the teacher's messages to answer.</i>"))
    head = "\n".join(lines)
    title = _("Recent conversation")
    body = [f"\n\n<b>{title}</b>"]
    for line in card.transcript:
        icon = "👩‍🏫" if line.author == "teacher" else "🤖"
        text = (
            line.text
            if len(line.text) <= TRANSCRIPT_LINE_LIMIT
            else line.text[:TRANSCRIPT_LINE_LIMIT] + "…"
        )
        body.append(f"{icon} {esc(text)}")
    # Drop the oldest transcript lines until the card fits.
    while len(head) + sum(len(b) + 1 for b in body) > CARD_LIMIT and len(body) > 1:
        body.pop(1)
    return head + "\n".join(body) if len(body) > 1 else head
