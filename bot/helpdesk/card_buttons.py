"""The card's buttons «Взять», «Закрыть», «Заметка» (the commands /take, /close, /note stay).

A button carries only the action and the ticket's number; who pressed it is checked by the
handler (bot/helpdesk/rights.py), like a command. «Заметка» cannot take text itself: it posts a
prompt, and the operator's reply to that prompt becomes the note (`NOTE_PROMPT` is recognised
by its text, so it still works after a restart and is never relayed to the teacher).
"""

from __future__ import annotations

import re
from enum import StrEnum

from aiogram.filters.callback_data import CallbackData
from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup, Message
from aiogram.utils.i18n import gettext as _

from services.helpdesk.models import Ticket


class CardAction(StrEnum):
    TAKE = "take"
    CLOSE = "close"
    NOTE = "note"


class TicketButton(CallbackData, prefix="hd"):
    action: CardAction
    ticket: int


def card_keyboard(ticket: Ticket) -> InlineKeyboardMarkup | None:
    """The buttons of an open ticket's card (in the operators' language); none once closed."""
    if not ticket.is_open:
        return None
    labels = (
        (CardAction.TAKE, _("🙋 Take")),
        (CardAction.CLOSE, _("✅ Close")),
        (CardAction.NOTE, _("📝 Note")),
    )
    return InlineKeyboardMarkup(
        inline_keyboard=[
            [
                InlineKeyboardButton(
                    text=label, callback_data=TicketButton(action=action, ticket=ticket.id).pack()
                )
                for action, label in labels
            ]
        ]
    )


def note_prompt(ticket_id: int) -> str:
    """The prompt «Заметка» posts (in the operators' language, set by the caller)."""
    return _(
        "📝 Note for ticket #{number}: reply to this message with the note; the teacher will "
        "not see it."
    ).format(number=ticket_id)


_NUMBER = re.compile(r"#(\d+)")


def prompted_note_ticket(message: Message) -> int | None:
    """The ticket whose note prompt `message` replies to, or None.

    Read back from the prompt (written by a bot, with its exact text), so no state is kept and a
    reply to anything else is never taken for a note. Mistaking a reply for a note only keeps it
    from the teacher; the sender's rights are checked apart.
    """
    replied = message.reply_to_message
    if replied is None or replied.from_user is None or not replied.from_user.is_bot:
        return None
    found = _NUMBER.search(replied.text or "")
    if found is None:
        return None
    ticket_id = int(found.group(1))
    return ticket_id if replied.text == note_prompt(ticket_id) else None
