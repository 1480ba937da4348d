"""The new window first, then the old window's buttons taken away.

When the teacher types (her phone, a code, her name…), or a window comes with a picture, the
dialog answers with a new message below and takes the inline keyboard off the window above it,
so its buttons cannot be pressed any more (7 of the 13 updates of scenario A). aiogram-dialog
does it in that order: it edits the old window and only then sends the new one, so she waited
one more round trip to Telegram before she saw her next window. Here the new window goes first;
the keyboard removal follows and cannot fail her update — the window she needs is already
shown, and a button left on the old one acts on the step she is at now, as any old window's
button does in aiogram-dialog (once her dialog is gone: bot/handlers/stale_buttons.py).

Only that case changes. A window with a reply keyboard (the contact button) is still replaced
the way aiogram-dialog does it (delete, then send: the keyboard must not collapse and reappear),
and an edited window is one call anyway.
"""

from __future__ import annotations

import logging

from aiogram import Bot
from aiogram.exceptions import TelegramAPIError
from aiogram_dialog.api.entities import NewMessage, OldMessage, ShowMode
from aiogram_dialog.manager.message_manager import MessageManager

logger = logging.getLogger(__name__)


class ReplyFirstMessageManager(MessageManager):
    async def show_message(
        self, bot: Bot, new_message: NewMessage, old_message: OldMessage | None
    ) -> OldMessage:
        if (
            old_message is None
            or new_message.show_mode is not ShowMode.SEND
            or self.had_reply_keyboard(old_message)
        ):
            return await super().show_message(bot, new_message, old_message)
        shown = await super().show_message(bot, new_message, None)  # sent: nothing to edit
        try:
            await self.remove_inline_kbd(bot, old_message)
        except TelegramAPIError as error:  # her new window is out: the old buttons stay
            logger.warning("old window's keyboard left in chat %s: %s", old_message.chat.id, error)
        return shown
