"""aiogram-dialog's `Button`, rendered without its style widget when it has none.

aiogram-dialog's `Button` asks its style widget for a style and a custom emoji on every render:
two awaited calls, each through its exception-note wrapper and `when` check, to get `None` twice
from `EMPTY_STYLE` — more than the button's text costs. None of our buttons has a style, so
`Button` here passes the same two `None`s straight away; a button given a style renders as
aiogram-dialog's does.
"""

from __future__ import annotations

from typing import Any

from aiogram.types import InlineKeyboardButton
from aiogram_dialog import DialogManager
from aiogram_dialog.api.internal import RawKeyboard
from aiogram_dialog.widgets.kbd import Button as DialogButton
from aiogram_dialog.widgets.style import EMPTY_STYLE


class Button(DialogButton):
    async def _render_keyboard(self, data: dict[str, Any], manager: DialogManager) -> RawKeyboard:
        if self.style is not EMPTY_STYLE:
            return await super()._render_keyboard(data, manager)
        return [
            [
                InlineKeyboardButton(
                    text=await self.text.render_text(data, manager),
                    callback_data=self._own_callback_data(),
                    style=None,
                    icon_custom_emoji_id=None,
                ),
            ],
        ]
