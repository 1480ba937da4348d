"""The operators' side, in the helpdesk supergroup: answers and their edits, /close, /note,
/take, /queue, the card's buttons «Взять», «Закрыть», «Заметка».

Everything here listens only to `settings.helpdesk_chat_id` and acts only for operators (listed in
`HELPDESK_OPERATOR_IDS` or administrators of the group, bot/helpdesk/rights.py). A message
in a ticket's topic (or, without topics, a reply to the ticket's card or to a relayed message) is
copied to the teacher; commands act on that ticket. Anything else in the helpdesk chat — the
general topic, members who are not operators, unknown commands — is swallowed here so that no
teacher-side handler ever answers in the helpdesk.
"""

from __future__ import annotations

import logging
import re
from datetime import UTC, datetime
from typing import Any

from aiogram import Bot, F, Router
from aiogram.enums import ChatType, ContentType, ParseMode
from aiogram.exceptions import TelegramAPIError
from aiogram.filters import BaseFilter, Command, CommandObject
from aiogram.methods import SendMessage
from aiogram.types import (
    CallbackQuery,
    ChatMemberUpdated,
    LinkPreviewOptions,
    Message,
    ReplyParameters,
    User,
)
from aiogram.utils.i18n import gettext as _
from aiogram_dialog import BgManagerFactory

from bot.dialogs.handoff import finish_for_teacher
from bot.helpdesk.card_buttons import CardAction, TicketButton, note_prompt, prompted_note_ticket
from bot.helpdesk.queue import QUEUE_LIMIT, render_queue
from bot.helpdesk.relay import HelpdeskRelay
from services.helpdesk import ClosedBy
from services.helpdesk.models import Ticket

logger = logging.getLogger(__name__)

HELPDESK_ROUTER_NAME = "helpdesk"
RELAYED_CONTENT = {
    ContentType.TEXT,
    ContentType.PHOTO,
    ContentType.DOCUMENT,
    ContentType.VIDEO,
    ContentType.VOICE,
    ContentType.AUDIO,
    ContentType.ANIMATION,
    ContentType.STICKER,
    ContentType.VIDEO_NOTE,
}


class InHelpdeskChat(BaseFilter):
    """The message, button press or membership change happened in the helpdesk chat."""

    async def __call__(
        self, event: Message | ChatMemberUpdated | CallbackQuery, helpdesk: Any = None
    ) -> bool:
        chat = event.message.chat if isinstance(event, CallbackQuery) and event.message else None
        chat = chat or getattr(event, "chat", None)
        return (
            isinstance(helpdesk, HelpdeskRelay)
            and helpdesk.chat_id is not None
            and chat is not None
            and chat.id == helpdesk.chat_id
        )


class FromOperator(BaseFilter):
    """The sender is an operator (bot/helpdesk/rights.py): listed, or an administrator."""

    async def __call__(self, message: Message, bot: Bot, helpdesk: HelpdeskRelay) -> bool:
        return await helpdesk.rights.allows(bot, message.from_user, message.sender_chat)


class InTicket(BaseFilter):
    """The message belongs to a ticket (its topic, or a reply to its card); passes `ticket`."""

    async def __call__(self, message: Message, helpdesk: HelpdeskRelay) -> bool | dict[str, Any]:
        ticket = await helpdesk.ticket_for(message)
        return {"ticket": ticket} if ticket is not None else False


async def close_ticket(
    message: Message,
    bot: Bot,
    helpdesk: HelpdeskRelay,
    ticket: Ticket,
    bg_factory: BgManagerFactory,
) -> None:
    assert message.from_user is not None
    await close_for_operator(bot, helpdesk, ticket, message.from_user, bg_factory)


async def close_for_operator(
    bot: Bot, helpdesk: HelpdeskRelay, ticket: Ticket, operator: User, bg_factory: BgManagerFactory
) -> None:
    """/close or «Закрыть»: close, then the teacher's window turns into the rating."""
    closed = await helpdesk.close(
        bot, ticket, closed_by=ClosedBy.OPERATOR, closed_by_id=operator.id, operator=operator
    )
    if closed is None:
        with helpdesk.operator_language():
            await helpdesk.post(bot, ticket, _("The ticket is already closed."))
        return
    try:
        await finish_for_teacher(bot, bg_factory, helpdesk, closed)
    except TelegramAPIError as error:
        logger.warning("ticket #%s: teacher not told about closing: %s", closed.id, error)
        with helpdesk.operator_language():
            await helpdesk.post(
                bot,
                closed,
                _("⚠️ The teacher was not told that the ticket is closed: {reason}").format(
                    reason=error.message
                ),
            )


async def on_card_button(
    callback: CallbackQuery,
    callback_data: TicketButton,
    bot: Bot,
    helpdesk: HelpdeskRelay,
    bg_factory: BgManagerFactory,
) -> None:
    """«Взять», «Закрыть», «Заметка» on a card: the same rights and effects as the commands."""
    with helpdesk.operator_language():
        if not await helpdesk.rights.allows(bot, callback.from_user):
            await callback.answer(_("Only helpdesk operators can do this."), show_alert=True)
            return
        ticket = await helpdesk.tickets.get(callback_data.ticket)
        if ticket is None or ticket.helpdesk_chat_id != helpdesk.chat_id:
            await callback.answer(_("This ticket is not in this chat."), show_alert=True)
            return
        if not ticket.is_open:
            await callback.answer(_("The ticket is already closed."), show_alert=True)
            return
        if callback_data.action is CardAction.TAKE:
            await helpdesk.take(bot, ticket, callback.from_user)
            await callback.answer(_("The ticket is yours."))
        elif callback_data.action is CardAction.CLOSE:
            await close_for_operator(bot, helpdesk, ticket, callback.from_user, bg_factory)
            await callback.answer()
        else:
            await helpdesk.post(bot, ticket, note_prompt(ticket.id), force_reply=True)
            await callback.answer()


class RepliesToNotePrompt(BaseFilter):
    """The message replies to a «Заметка» prompt of this bot; passes `note_ticket`."""

    async def __call__(self, message: Message, helpdesk: HelpdeskRelay) -> bool | dict[str, Any]:
        with helpdesk.operator_language():
            ticket_id = prompted_note_ticket(message)
        ticket = await helpdesk.tickets.get(ticket_id) if ticket_id is not None else None
        if ticket is None or ticket.helpdesk_chat_id != helpdesk.chat_id:
            return False
        return {"note_ticket": ticket}


async def save_prompted_note(
    message: Message, bot: Bot, helpdesk: HelpdeskRelay, note_ticket: Ticket
) -> None:
    """The reply to a «Заметка» prompt: an internal note, never sent to the teacher."""
    assert message.from_user is not None
    with helpdesk.operator_language():
        await helpdesk.note(bot, note_ticket, message.from_user, message.text or "")
        await helpdesk.post(
            bot,
            note_ticket,
            _("📝 Note saved. The teacher does not see it."),
            reply_to=message.message_id,
        )


async def add_note(
    message: Message, command: CommandObject, bot: Bot, helpdesk: HelpdeskRelay, ticket: Ticket
) -> None:
    assert message.from_user is not None
    with helpdesk.operator_language():
        if not command.args:
            await helpdesk.post(
                bot, ticket, _("Usage: /note text of the note"), reply_to=message.message_id
            )
            return
        await helpdesk.note(bot, ticket, message.from_user, command.args.strip())
        await helpdesk.post(
            bot,
            ticket,
            _("📝 Note saved. The teacher does not see it."),
            reply_to=message.message_id,
        )


async def take_ticket(message: Message, bot: Bot, helpdesk: HelpdeskRelay, ticket: Ticket) -> None:
    assert message.from_user is not None
    await helpdesk.take(bot, ticket, message.from_user)


_TICKET_NUMBER = re.compile(r"#?(\d+)\s+(.+)", re.DOTALL)


def reply_text(message: Message) -> str | None:
    """The text after `/reply` (and after `#N`, when given), or None for anything else."""
    text = message.text or ""
    command, _, rest = text.partition(" ")
    if command.split("@")[0] != "/reply":
        return None
    rest = rest.strip()
    number = _TICKET_NUMBER.fullmatch(rest)
    return number.group(2).strip() if number and rest.startswith("#") else rest or None


async def reply_command(message: Message, bot: Bot, helpdesk: HelpdeskRelay) -> None:
    """/reply text in a ticket's topic, or /reply #N text anywhere in the group: the text goes to
    the teacher, signed, like a plain answer (handy where a plain message would not be one)."""
    rest = (message.text or "").partition(" ")[2].strip()
    number = _TICKET_NUMBER.fullmatch(rest) if rest.startswith("#") else None
    ticket = (
        await helpdesk.tickets.get(int(number.group(1)))
        if number
        else await helpdesk.ticket_for(message)
    )
    text = reply_text(message)
    if ticket is None or ticket.helpdesk_chat_id != helpdesk.chat_id or not text:
        with helpdesk.operator_language():
            usage = _("Usage: /reply text (in a ticket's topic) or /reply #number text")
        await helpdesk.outbox.send(
            bot,
            message.chat.id,
            SendMessage(
                chat_id=message.chat.id,
                message_thread_id=message.message_thread_id if message.is_topic_message else None,
                text=usage,
                reply_parameters=ReplyParameters(
                    message_id=message.message_id, allow_sending_without_reply=True
                ),
                parse_mode=None,
            ),
        )
        return
    answer = message.model_copy(update={"text": text, "entities": None})
    await helpdesk.relay_to_teacher(bot, ticket, answer)


async def operator_edited(
    message: Message, bot: Bot, helpdesk: HelpdeskRelay, ticket: Ticket
) -> None:
    """An operator edited an answer already relayed: the teacher's copy is edited too."""
    text = reply_text(message)
    if text is not None:
        message = message.model_copy(update={"text": text, "entities": None})
    await helpdesk.relay_operator_edit(bot, ticket, message)


async def teacher_edited(message: Message, bot: Bot, helpdesk: Any = None) -> None:
    """The teacher edited a message already shown in her ticket: the group's copy follows,
    masked like the first time."""
    if isinstance(helpdesk, HelpdeskRelay) and helpdesk.enabled:
        await helpdesk.relay_teacher_edit(bot, message)


async def answer_teacher(
    message: Message, bot: Bot, helpdesk: HelpdeskRelay, ticket: Ticket
) -> None:
    await helpdesk.relay_to_teacher(bot, ticket, message)


async def show_queue(
    message: Message, bot: Bot, helpdesk: HelpdeskRelay, clock: Any = None
) -> None:
    """/queue anywhere in the helpdesk chat: the open tickets, the longest waiting first."""
    assert helpdesk.chat_id is not None  # InHelpdeskChat
    tickets, total = await helpdesk.tickets.open_queue(QUEUE_LIMIT)
    now = clock.now() if clock is not None else datetime.now(UTC)
    with helpdesk.operator_language():
        text = render_queue(tickets, total, now=now, chat_id=helpdesk.chat_id)
    await helpdesk.outbox.send(
        bot,
        helpdesk.chat_id,
        SendMessage(
            chat_id=helpdesk.chat_id,
            message_thread_id=message.message_thread_id if message.is_topic_message else None,
            text=text,
            parse_mode=ParseMode.HTML,
            link_preview_options=LinkPreviewOptions(is_disabled=True),
        ),
    )


async def member_changed(event: ChatMemberUpdated, helpdesk: HelpdeskRelay) -> None:
    """Someone left, was removed, demoted or promoted: her rights are asked again next time."""
    helpdesk.rights.forget(event.new_chat_member.user.id)


async def swallow(message: Message) -> None:
    """Anything else in the helpdesk chat: not for the teacher-side handlers."""


def create_helpdesk_router() -> Router:
    router = Router(name=HELPDESK_ROUTER_NAME)
    router.message.filter(InHelpdeskChat())
    router.message.register(close_ticket, Command("close"), FromOperator(), InTicket())
    router.message.register(add_note, Command("note"), FromOperator(), InTicket())
    router.message.register(take_ticket, Command("take"), FromOperator(), InTicket())
    router.message.register(show_queue, Command("queue"), FromOperator())
    router.message.register(reply_command, Command("reply"), FromOperator())
    router.message.register(save_prompted_note, F.text, FromOperator(), RepliesToNotePrompt())
    router.message.register(
        answer_teacher,
        F.content_type.in_(RELAYED_CONTENT),
        ~F.text.startswith("/"),
        FromOperator(),
        InTicket(),
    )
    router.message.register(swallow)
    router.callback_query.register(on_card_button, TicketButton.filter(), InHelpdeskChat())
    router.edited_message.register(
        operator_edited, InHelpdeskChat(), FromOperator(), InTicket(), F.text | F.caption
    )
    router.edited_message.register(teacher_edited, F.chat.type == ChatType.PRIVATE)
    # Registering it puts "chat_member" into the allowed_updates the dispatcher derives.
    router.chat_member.register(member_changed, InHelpdeskChat())
    return router
