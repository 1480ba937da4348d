"""Telling the bot's admins (ADMIN_IDS) that something broke — at most once a minute.

A failing database or a bug can fail every update for a while; the admins need to hear of it
once, not once per teacher. The gate is per process, or shared through Redis by replicas.
Details go to the log (with the update id); the alert says where to look.
"""

from __future__ import annotations

import logging

from aiogram import Bot
from aiogram.exceptions import TelegramAPIError
from aiogram.utils.i18n import I18n

from bot.shared_state.once import MemoryOncePerWindow, OncePerWindow

logger = logging.getLogger(__name__)

ALERT_WINDOW = 60.0


class AdminAlerts:
    def __init__(
        self,
        admin_ids: list[int],
        i18n: I18n,
        *,
        locale: str,
        gate: OncePerWindow | None = None,
    ) -> None:
        self.admin_ids = list(admin_ids)
        self.i18n = i18n
        self.locale = locale
        self.gate: OncePerWindow = gate or MemoryOncePerWindow(ALERT_WINDOW)
        self.sent = 0  # alerts sent (a metric hook)

    async def unexpected_error(self, bot: Bot, update_id: int, error: BaseException) -> bool:
        """Alert the admins about a failed update unless one was sent within the minute."""
        if not self.admin_ids or not await self.gate.first("unexpected-error"):
            return False
        # In the admins' language (the bot's default), whoever's update failed.
        text = self.i18n.gettext(
            "⚠️ The bot failed to handle update {update_id}: {error}. The teacher was asked "
            "to try again. Details are in the log; further failures within a minute are "
            "not reported here.",
            locale=self.locale,
        ).format(update_id=update_id, error=type(error).__name__)
        for admin_id in self.admin_ids:
            try:
                await bot.send_message(admin_id, text, parse_mode=None)
            except TelegramAPIError as failure:
                logger.warning("admin %s not alerted: %s", admin_id, failure)
        self.sent += 1
        return True
