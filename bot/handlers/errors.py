"""Errors that must never reach the teacher as silence: stale buttons and lost dialog states.

A button of a finished or replaced dialog raises UnknownIntent/OutdatedIntent in aiogram-dialog;
a state stored by an older version raises UnknownState. The teacher gets «Продолжить» /
«Начать заново» instead.
"""

from __future__ import annotations

import logging

from aiogram import Router
from aiogram.filters import ExceptionTypeFilter
from aiogram.types import ErrorEvent
from aiogram_dialog import DialogManager
from aiogram_dialog.api.exceptions import OutdatedIntent, UnknownIntent, UnknownState

from bot.handlers.stale_buttons import (
    answer_stale_button,
    continue_or_restart_keyboard,
    stale_button_text,
)

logger = logging.getLogger(__name__)


async def on_stale(event: ErrorEvent, dialog_manager: DialogManager) -> None:
    logger.info("stale update: %s", type(event.exception).__name__)
    if isinstance(event.exception, UnknownState):
        await dialog_manager.reset_stack(remove_keyboard=False)
    callback = event.update.callback_query
    message = event.update.message
    if callback is not None:
        await answer_stale_button(callback)
    elif message is not None:
        await message.answer(stale_button_text(), reply_markup=continue_or_restart_keyboard())


def create_errors_router() -> Router:
    router = Router(name="errors")
    router.errors.register(
        on_stale, ExceptionTypeFilter(UnknownIntent, OutdatedIntent, UnknownState)
    )
    return router
