"""The teacher's side of a helpdesk ticket: chatting with a specialist, then the rating.

Start data: {"reason": "help" | "free_text", "step": "<StatesGroup>:<state>"}. The ticket opens
on start (idempotently: one open ticket per teacher). While chatting, the teacher's text, photos
and documents are copied into the ticket's topic; operators' answers arrive as copies in this
chat. When either side closes the ticket: rating 1–5 → optional comment → thanks → `done()`, which
brings back the window the teacher left.
"""

from __future__ import annotations

import logging
from typing import Any

from aiogram import Bot, F
from aiogram.enums import ContentType
from aiogram.methods import SendMessage
from aiogram.types import CallbackQuery, Message
from aiogram.utils.i18n import gettext as _
from aiogram_dialog import BgManagerFactory, Data, Dialog, DialogManager, ShowMode, Window
from aiogram_dialog.widgets.input import MessageInput
from aiogram_dialog.widgets.kbd import Button, Row
from aiogram_dialog.widgets.text import Format

from bot.dialogs.inputs import any_input
from bot.dialogs.notices import notice_text, render_note, render_notice
from bot.dialogs.states import Handoff
from bot.helpdesk_relay import HelpdeskRelay, use_i18n
from bot.widgets.i18n import I18nConst
from services.helpdesk import ClosedBy
from services.helpdesk.models import Ticket

logger = logging.getLogger(__name__)

TICKET_ID = "ticket_id"
RATINGS = range(1, 6)
RESULT = {"handoff": "closed", "back_to_step": True}


def _relay(manager: DialogManager) -> HelpdeskRelay | None:
    relay = manager.middleware_data.get("helpdesk")
    return relay if isinstance(relay, HelpdeskRelay) and relay.enabled else None


def _bot(manager: DialogManager) -> Bot:
    return manager.middleware_data["bot"]


async def _on_start(start_data: Data, manager: DialogManager) -> None:
    relay = _relay(manager)
    if relay is None:
        return
    data = start_data if isinstance(start_data, dict) else {}
    user = manager.event.from_user
    chat = manager.middleware_data.get("event_chat")
    assert user is not None
    opened = await relay.open_ticket(
        _bot(manager),
        user=user,
        chat_id=chat.id if chat is not None else user.id,
        reason=data.get("reason"),
        step=data.get("step"),
    )
    manager.dialog_data[TICKET_ID] = opened.ticket.id


async def _chatting_getter(dialog_manager: DialogManager, **_kwargs: Any) -> dict[str, Any]:
    relay = _relay(dialog_manager)
    ticket_id = dialog_manager.dialog_data.get(TICKET_ID)
    ticket = await relay.tickets.get(ticket_id) if relay and ticket_id else None
    if relay is None or ticket is None:
        return {
            "text": _(
                "The helpdesk is not available in this bot right now. Please use «It doesn't "
                "work» tips or try again later."
            ),
            "open": False,
        }
    wait = await relay.expected_wait(ticket)
    head = _("🙋 <b>Ticket #{number}</b>").format(number=ticket.id)
    if wait.minutes is not None:
        when = _(
            "A helpdesk specialist will answer right here in this chat, usually within about "
            "{minutes} min."
        ).format(minutes=wait.minutes)
    else:
        assert wait.opens_at is not None
        when = _(
            "The helpdesk works {hours} (Moscow time), Monday to Friday. It is closed now: a "
            "specialist will answer here on {date} after {time}."
        ).format(
            hours=relay.settings.helpdesk_hours,
            date=wait.opens_at.strftime("%d.%m"),
            time=wait.opens_at.strftime("%H:%M"),
        )
    body = _(
        "Write what does not work; you can attach a screenshot or a document. You do not need "
        "to repeat anything: the specialist already sees your step and the last errors."
    )
    return {"text": f"{head}\n\n{when}\n\n{body}", "open": True}


async def _on_teacher_message(message: Message, widget: Any, manager: DialogManager) -> None:
    manager.show_mode = ShowMode.NO_UPDATE  # the window stays put while she writes
    relay = _relay(manager)
    if relay is None:
        return
    if not await relay.relay_from_teacher(_bot(manager), message):
        await message.answer(
            _("⚠️ This message did not reach the specialist. Please send it again in a minute.")
        )


async def _on_unsupported(message: Message, widget: Any, manager: DialogManager) -> None:
    manager.show_mode = ShowMode.NO_UPDATE
    await message.answer(_("Only text, photos and documents reach the specialist."))


async def _close_from_teacher(manager: DialogManager, closed_by: ClosedBy) -> bool:
    relay = _relay(manager)
    ticket_id = manager.dialog_data.get(TICKET_ID)
    if relay is None or ticket_id is None:
        return False
    ticket = await relay.tickets.get(ticket_id)
    if ticket is None:
        return False
    user = manager.event.from_user
    closed = await relay.close(
        _bot(manager), ticket, closed_by=closed_by, closed_by_id=user.id if user else None
    )
    return closed is not None or not ticket.is_open


async def _end_conversation(callback: CallbackQuery, button: Any, manager: DialogManager) -> None:
    if await _close_from_teacher(manager, ClosedBy.TEACHER):
        await manager.switch_to(Handoff.rating)
    else:
        await manager.done(result=RESULT)


async def _back_to_bot(callback: CallbackQuery, button: Any, manager: DialogManager) -> None:
    await _close_from_teacher(manager, ClosedBy.RETURNED)
    await manager.done(result=RESULT)


async def _on_rating(callback: CallbackQuery, button: Button, manager: DialogManager) -> None:
    rating = int(button.widget_id.removeprefix("rate_"))
    relay = _relay(manager)
    ticket_id = manager.dialog_data.get(TICKET_ID)
    if relay is not None and ticket_id is not None:
        await relay.record_rating(_bot(manager), ticket_id, rating)
    manager.dialog_data["rating"] = rating
    await manager.switch_to(Handoff.comment)


async def _notice_getter(dialog_manager: DialogManager, **_kwargs: Any) -> dict[str, Any]:
    return {"notice": render_notice(dialog_manager), "note": render_note(dialog_manager)}


async def _on_comment(message: Message, widget: Any, manager: DialogManager) -> None:
    relay = _relay(manager)
    ticket_id = manager.dialog_data.get(TICKET_ID)
    if relay is not None and ticket_id is not None and message.text:
        await relay.record_comment(_bot(manager), ticket_id, message.text)
    await _finish(manager)


async def _skip_comment(callback: CallbackQuery, button: Any, manager: DialogManager) -> None:
    await _finish(manager)


async def _finish(manager: DialogManager) -> None:
    """Thanks, then back to the window the teacher left (or a hint if there is none)."""
    chat = manager.middleware_data.get("event_chat")
    has_parent = len(manager.current_stack().intents) > 1
    thanks = _("Thank you for the feedback!")
    if has_parent:
        thanks += " " + _("Let's continue from the step where you stopped.")
    else:
        thanks += " " + _("Send /start to continue the linking.")
    if chat is not None:
        await _bot(manager).send_message(chat.id, thanks)
    await manager.done(result=RESULT, show_mode=ShowMode.SEND)


def create_handoff_dialog() -> Dialog:
    return Dialog(
        Window(
            Format("{text}"),
            Row(
                Button(
                    I18nConst("✅ End the conversation"),
                    id="handoff_end",
                    on_click=_end_conversation,
                    when=F["open"],
                ),
                Button(I18nConst("↩️ Back to the bot"), id="handoff_back", on_click=_back_to_bot),
            ),
            MessageInput(
                _on_teacher_message,
                content_types=[ContentType.TEXT, ContentType.PHOTO, ContentType.DOCUMENT],
            ),
            MessageInput(_on_unsupported),
            state=Handoff.chatting,
            getter=_chatting_getter,
        ),
        Window(
            I18nConst(
                "The conversation with the specialist is over. How would you rate the help? "
                "(1 — bad, 5 — excellent)"
            ),
            notice_text(),
            Row(
                *[
                    Button(Format(f"{value} ⭐"), id=f"rate_{value}", on_click=_on_rating)
                    for value in RATINGS
                ]
            ),
            any_input(),
            state=Handoff.rating,
            getter=_notice_getter,
        ),
        Window(
            I18nConst("Thank you! Would you like to add a comment? Write it here or press «Skip»."),
            Button(I18nConst("Skip the comment"), id="comment_skip", on_click=_skip_comment),
            MessageInput(_on_comment, content_types=[ContentType.TEXT]),
            state=Handoff.comment,
        ),
        on_start=_on_start,
    )


async def finish_for_teacher(
    bot: Bot, bg_factory: BgManagerFactory, relay: HelpdeskRelay, ticket: Ticket
) -> None:
    """After an operator closed the ticket: the teacher's handoff window turns into the rating.

    Runs inside the teacher's own dialog context (`fg`), so it never races her updates. If she is
    no longer in the handoff window (e.g. restarted with /start), she gets a short message.
    """
    manager_factory = bg_factory.bg(bot, user_id=ticket.user_id, chat_id=ticket.chat_id)
    async with manager_factory.fg() as manager:
        if manager.has_context() and manager.current_context().state == Handoff.chatting:
            manager.current_context().dialog_data[TICKET_ID] = ticket.id
            await manager.switch_to(Handoff.rating)
            await manager.show(ShowMode.SEND)
            return
    locale = ticket.locale if ticket.locale in relay.i18n.available_locales else None
    with use_i18n(relay.i18n, locale or relay.i18n.default_locale):
        text = _("The specialist has closed your request. Thank you!")
    await relay.outbox.send(bot, ticket.chat_id, SendMessage(chat_id=ticket.chat_id, text=text))
