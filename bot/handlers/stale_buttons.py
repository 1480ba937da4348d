"""The answer to a button that no longer works (an old window, a finished dialog, forged data):
«Продолжить» shows the step the teacher is at, «Начать заново» restarts the same linking.

The two callbacks are handled by the start router (bot/handlers/start.py).
"""

from __future__ import annotations

from aiogram.types import CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup
from aiogram.utils.i18n import gettext as _

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
