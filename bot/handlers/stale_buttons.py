"""The answer to a button that no longer works (an old window, a finished dialog, forged data):
«Продолжить» shows the step the teacher is at, «Начать заново» restarts the same linking.

The two callbacks are handled by the start router (bot/handlers/start.py). A button of an earlier
copy of the current dialog's window — one rendered before /language switched the language, or
whose keyboard Telegram could not take away — does not act: it shows the step again, now, in the
current language (`create_old_window_router`, before the dialogs).
"""

from __future__ import annotations

from typing import Any

from aiogram import Router
from aiogram.filters import BaseFilter
from aiogram.types import CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup
from aiogram.utils.i18n import gettext as _
from aiogram_dialog import DialogManager, ShowMode
from aiogram_dialog.api.internal import STACK_KEY
from aiogram_dialog.utils import remove_intent_id

RESUME = "nav:resume"
RESTART = "nav:restart"


def continue_or_restart_keyboard() -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        inline_keyboard=[
            [
                InlineKeyboardButton(text=_("Continue"), callback_data=RESUME),
                InlineKeyboardButton(text=_("Start over"), callback_data=RESTART),
            ]
        ]
    )


def stale_button_text() -> str:
    return _("This button is from an earlier step. Continue where you stopped, or start over?")


async def answer_stale_button(callback: CallbackQuery) -> None:
    """«Эта кнопка уже не работает.», then «Продолжить» / «Начать заново» in the chat."""
    await callback.answer(_("This button no longer works."))
    if callback.message is not None:
        await callback.message.answer(
            stale_button_text(), reply_markup=continue_or_restart_keyboard()
        )


class OnEarlierWindow(BaseFilter):
    """A dialog button pressed on a message that is not the dialog's window on screen now."""

    async def __call__(self, callback: CallbackQuery, **data: Any) -> bool:
        stack = data.get(STACK_KEY)
        if stack is None or callback.message is None or stack.last_message_id is None:
            return False
        intent_id, _widget = remove_intent_id(callback.data or "")
        return bool(intent_id) and callback.message.message_id != stack.last_message_id


async def show_current_window(callback: CallbackQuery, dialog_manager: DialogManager) -> None:
    await callback.answer(_("That was an earlier copy of this step. Here it is now."))
    await dialog_manager.show(ShowMode.SEND)


def create_old_window_router() -> Router:
    router = Router(name="old_windows")
    router.callback_query.register(show_current_window, OnEarlierWindow())
    return router
