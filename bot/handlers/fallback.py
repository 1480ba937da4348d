"""What no dialog window took: a short friendly answer, and the teacher's step shown again.

Dialog windows answer inputs they cannot use themselves; this router sees the rest — messages
outside any dialog, in windows without an input, and buttons nobody recognises (forged data).
"""

from __future__ import annotations

from aiogram import F, Router
from aiogram.types import CallbackQuery, Message
from aiogram.utils.i18n import gettext as _
from aiogram_dialog import DialogManager, ShowMode

from bot.dialogs.free_text import handle_free_text
from bot.handlers.stale_buttons import answer_stale_button
from bot.intents import MAX_TEXT_LENGTH

FALLBACK_ROUTER_NAME = "teacher_fallback"


def _answer_for(message: Message) -> str:
    text = message.text
    if text is None:
        return _(
            "I can only read text messages and buttons — stickers, photos and voice "
            "messages do not reach the linking."
        )
    if text.startswith("/"):
        return _("I don't know that command. Commands: /start, /help, /language.")
    if len(text) > MAX_TEXT_LENGTH:
        return _("That message is too long for me.")
    return _("Please use the buttons under the message.")


async def on_any_message(message: Message, dialog_manager: DialogManager) -> None:
    text = message.text or ""
    if (
        text
        and not text.startswith("/")
        and len(text) <= MAX_TEXT_LENGTH
        and await handle_free_text(message, dialog_manager)
    ):
        return
    if not dialog_manager.has_context():
        await message.answer(
            _answer_for(message)
            + "\n"
            + _(
                "To start linking, open me from the e-journal («Перейти к подключению») "
                "or send /start."
            )
        )
        return
    await message.answer(_answer_for(message))
    await dialog_manager.show(ShowMode.SEND)


async def on_unknown_button(callback: CallbackQuery, dialog_manager: DialogManager) -> None:
    await answer_stale_button(callback)


def create_fallback_router() -> Router:
    router = Router(name=FALLBACK_ROUTER_NAME)
    router.message.register(on_any_message, F.chat.type == "private")
    router.callback_query.register(on_unknown_button)
    return router
