"""Errors that must never reach the teacher as silence.

Stale buttons and lost dialog states: a button of a finished or replaced dialog raises
UnknownIntent/OutdatedIntent in aiogram-dialog; a state stored by an older version raises
UnknownState. The teacher gets «Продолжить» / «Начать заново» instead.

Everything else (the database away, a bug, Telegram refusing a send): the last resort. The
teacher reads «Что-то пошло не так — попробуйте ещё раз» with a button that shows her step again;
the failure is logged with the update id; the admins hear of it at most once a minute. The dialog
keeps its step: aiogram-dialog saves a context only when its handler returned, so a failed
update leaves the stored step as it was.
"""

from __future__ import annotations

import contextlib
import logging

from aiogram import Bot, Router
from aiogram.exceptions import TelegramAPIError
from aiogram.filters import ExceptionTypeFilter
from aiogram.types import ErrorEvent, InlineKeyboardButton, InlineKeyboardMarkup, Message
from aiogram.utils.i18n import gettext as _
from aiogram_dialog import DialogManager
from aiogram_dialog.api.exceptions import OutdatedIntent, UnknownIntent, UnknownState

from bot.admin_alerts import AdminAlerts
from bot.handlers.stale_buttons import (
    RESUME,
    answer_stale_button,
    continue_or_restart_keyboard,
    stale_button_text,
)
from bot.observability.metrics import BotMetrics

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


def try_again_keyboard() -> InlineKeyboardMarkup:
    """One button that shows the teacher's current step again."""
    return InlineKeyboardMarkup(
        inline_keyboard=[[InlineKeyboardButton(text=_("Try again"), callback_data=RESUME)]]
    )


async def on_unexpected(
    event: ErrorEvent,
    bot: Bot,
    admin_alerts: AdminAlerts | None = None,
    metrics: BotMetrics | None = None,
) -> None:
    """The last resort: log, answer the teacher with a retry button, alert the admins."""
    update = event.update
    if metrics is not None:
        metrics.last_resort.labels(update.event_type).inc()
    logger.error(
        "update %d failed: %s",
        update.update_id,
        type(event.exception).__name__,
        exc_info=event.exception,
    )
    text = _("Something went wrong — please try again.")
    callback = update.callback_query
    message = update.message or (callback.message if callback is not None else None)
    try:
        if callback is not None:
            with contextlib.suppress(TelegramAPIError):  # too old to answer: never mind
                await callback.answer()
        if message is not None:
            private = message.chat.type == "private"
            await bot.send_message(
                message.chat.id,
                text,
                message_thread_id=(
                    message.message_thread_id
                    if isinstance(message, Message) and message.is_topic_message
                    else None
                ),
                reply_markup=try_again_keyboard() if private else None,
            )
    except TelegramAPIError as error:  # Telegram itself is failing: the log has it all
        logger.error("update %d: the teacher could not be told: %s", update.update_id, error)
    if admin_alerts is not None:
        try:
            await admin_alerts.unexpected_error(bot, update.update_id, event.exception)
        except Exception:
            logger.exception("admins not alerted")


def create_errors_router() -> Router:
    router = Router(name="errors")
    router.errors.register(
        on_stale, ExceptionTypeFilter(UnknownIntent, OutdatedIntent, UnknownState)
    )
    router.errors.register(on_unexpected)
    return router
