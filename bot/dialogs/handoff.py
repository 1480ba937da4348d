"""The teacher's side of a helpdesk ticket: chatting with a specialist, then the rating.

Start data: {"reason": "help" | "free_text" | "no_access", "step": "<StatesGroup>:<state>"}, or
{"ticket_id": N} to ask for the rating of a ticket an operator closed while she was on a step.
The ticket opens on start (idempotently: one open ticket per teacher); the «Отправить мой номер»
keyboard is taken away while she talks to a person. While chatting, her text, photos and
documents are copied into the ticket's topic; operators' answers arrive signed in this chat.
«Вернуться к боту» keeps the ticket open (bot/dialogs/open_ticket.py): she goes on linking, the
specialist can still answer, and «Написать специалисту» on her step brings her back here. When
either side closes the ticket: rating 1–5 or «Пропустить» (a new message at the bottom) → optional
comment → thanks → `done()`, which brings back the window she left. Without a helpdesk chat the
screen gives the school support's phone and e-mail from the settings instead.
"""

from __future__ import annotations

import html
import logging
from typing import Any

from aiogram import Bot
from aiogram.enums import ContentType
from aiogram.methods import SendMessage
from aiogram.types import CallbackQuery, Message, ReplyKeyboardRemove
from aiogram.utils.i18n import gettext as _
from aiogram_dialog import BgManagerFactory, Data, Dialog, DialogManager, ShowMode
from aiogram_dialog.widgets.input import MessageInput
from aiogram_dialog.widgets.kbd import Row
from aiogram_dialog.widgets.text import Format

from bot.deps import deps
from bot.dialogs.context import user_of
from bot.dialogs.inputs import any_input
from bot.dialogs.notices import notice_text, render_note, render_notice
from bot.dialogs.open_ticket import (
    contact_keyboard_shown,
    forget_open_ticket,
    remember_open_ticket,
    set_contact_keyboard,
)
from bot.dialogs.states import Handoff
from bot.helpdesk.relay import HelpdeskRelay
from bot.i18n import use_i18n
from bot.widgets.i18n import I18nConst
from bot.widgets.kbd import Button
from bot.widgets.window import Window
from services.helpdesk import ClosedBy
from services.helpdesk.models import Ticket

logger = logging.getLogger(__name__)

TICKET_ID = "ticket_id"
RATINGS = range(1, 6)
RESULT = {"handoff": "closed", "back_to_step": True}


def _relay(manager: DialogManager) -> HelpdeskRelay | None:
    relay = deps(manager).get("helpdesk")
    return relay if isinstance(relay, HelpdeskRelay) and relay.enabled else None


def _bot(manager: DialogManager) -> Bot:
    return deps(manager)["bot"]


async def _on_start(start_data: Data, manager: DialogManager) -> None:
    data = start_data if isinstance(start_data, dict) else {}
    if data.get(TICKET_ID) is not None:  # the rating of a ticket closed while she was linking
        manager.dialog_data[TICKET_ID] = data[TICKET_ID]
        return
    await _take_away_contact_keyboard(manager)
    relay = _relay(manager)
    if relay is None:
        return
    user = user_of(manager)
    chat = deps(manager).get("event_chat")
    opened = await relay.open_ticket(
        _bot(manager),
        user=user,
        chat_id=chat.id if chat is not None else user.id,
        reason=data.get("reason"),
        step=data.get("step"),
    )
    manager.dialog_data[TICKET_ID] = opened.ticket.id


async def _take_away_contact_keyboard(manager: DialogManager) -> None:
    """No «Отправить мой номер» under the input field while she writes to a person."""
    if not await contact_keyboard_shown(manager):
        return
    user = user_of(manager)
    await _bot(manager).send_message(
        user.id, _("Connecting you with the helpdesk…"), reply_markup=ReplyKeyboardRemove()
    )
    await set_contact_keyboard(manager, False)
    manager.show_mode = ShowMode.SEND


def _no_helpdesk_text(manager: DialogManager) -> str:
    """What to do instead when this bot has no helpdesk chat: the school support's contacts."""
    settings = deps(manager).get("settings")
    phone = getattr(settings, "support_phone", None)
    email = getattr(settings, "support_email", None)
    lines = [
        _(
            "The helpdesk is not connected to this bot, so messages written here would reach "
            "nobody. Please contact your school's support instead:"
        )
    ]
    if phone:
        lines.append(_("☎️ phone: {phone}").format(phone=html.escape(phone)))
    if email:
        lines.append(_("✉️ e-mail: {email}").format(email=html.escape(email)))
    if not phone and not email:
        lines.append(
            _(
                "ask the person responsible for the e-journal at your school (usually the deputy "
                "head or the IT specialist)."
            )
        )
    lines.append(_("Tell them your step; the tips of «It doesn't work» may also help."))
    return "\n".join(lines)


async def _chatting_getter(dialog_manager: DialogManager, **_kwargs: Any) -> dict[str, Any]:
    relay = _relay(dialog_manager)
    ticket_id = dialog_manager.dialog_data.get(TICKET_ID)
    ticket = await relay.tickets.get(ticket_id) if relay and ticket_id else None
    if relay is None:
        return {"text": _no_helpdesk_text(dialog_manager), "open": False}
    if ticket is None:
        return {
            "text": _("The helpdesk could not be reached right now. Please try again later."),
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
    privacy = _(
        "Never send passwords or codes: the specialist does not need them, and I hide them."
    )
    return {"text": f"{head}\n\n{when}\n\n{body}\n{privacy}", "open": True}


async def _on_teacher_message(message: Message, widget: Any, manager: DialogManager) -> None:
    manager.show_mode = ShowMode.NO_UPDATE  # the window stays put while she writes
    relay = _relay(manager)
    if relay is None:
        await message.answer(_no_helpdesk_text(manager))
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
    user = user_of(manager)
    closed = await relay.close(
        _bot(manager), ticket, closed_by=closed_by, closed_by_id=user.id if user else None
    )
    return closed is not None or not ticket.is_open


async def _end_conversation(callback: CallbackQuery, button: Any, manager: DialogManager) -> None:
    await forget_open_ticket(manager)
    if await _close_from_teacher(manager, ClosedBy.TEACHER):
        # A new message at the bottom: the handoff window may be far up after a conversation.
        await manager.switch_to(Handoff.rating, show_mode=ShowMode.SEND)
    else:
        await manager.done(result=RESULT)


async def _back_to_bot(callback: CallbackQuery, button: Any, manager: DialogManager) -> None:
    """Back to linking with the ticket still open: the specialist may still answer."""
    relay = _relay(manager)
    ticket_id = manager.dialog_data.get(TICKET_ID)
    ticket = await relay.tickets.get(ticket_id) if relay and ticket_id else None
    if ticket is not None and ticket.is_open:
        await remember_open_ticket(manager, ticket.id)
        await _bot(manager).send_message(
            callback.from_user.id,
            _(
                "Your request #{number} stays open: the specialist's answer will come here. To "
                "write to them again, press «✍️ Write to the specialist» under your step."
            ).format(number=ticket.id),
        )
        await manager.done(result=RESULT, show_mode=ShowMode.SEND)
        return
    await manager.done(result=RESULT)


async def _skip_rating(callback: CallbackQuery, button: Any, manager: DialogManager) -> None:
    await _finish(manager)


async def _on_rating(callback: CallbackQuery, button: Any, manager: DialogManager) -> None:
    rating = int(str(button.widget_id).removeprefix("rate_"))
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
    await forget_open_ticket(manager)
    chat = deps(manager).get("event_chat")
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
                    when="open",
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
            Button(I18nConst("Skip"), id="rating_skip", on_click=_skip_rating),
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
    """After an operator closed the ticket: the teacher's handoff window turns into the rating,
    or the rating comes over the step she went back to (the ticket was kept open).

    Runs inside the teacher's own dialog context (`fg`), so it never races her updates. If she has
    no dialog at all, she gets a short message.
    """
    manager_factory = bg_factory.bg(bot, user_id=ticket.user_id, chat_id=ticket.chat_id)
    async with manager_factory.fg() as manager:
        if manager.has_context() and manager.current_context().state == Handoff.chatting:
            manager.current_context().dialog_data[TICKET_ID] = ticket.id
            await manager.switch_to(Handoff.rating)
            await manager.show(ShowMode.SEND)
            return
        if manager.has_context() and manager.current_context().state.group is not Handoff:
            # She went back to linking with the ticket open: the rating comes over her step.
            await manager.start(
                Handoff.rating, data={TICKET_ID: ticket.id}, show_mode=ShowMode.SEND
            )
            return
    locale = ticket.locale if ticket.locale in relay.i18n.available_locales else None
    with use_i18n(relay.i18n, locale or relay.i18n.default_locale):
        text = _("The specialist has closed your request. Thank you!")
    await relay.outbox.send(bot, ticket.chat_id, SendMessage(chat_id=ticket.chat_id, text=text))
