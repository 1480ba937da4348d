"""aiogram-dialog's `Window`, with the keyboard's callback data prefixed without re-validation.

aiogram-dialog prefixes every inline button's callback data with the dialog's intent id after the
keyboard is rendered (`add_intent_id`), by assignment to the button: aiogram's Telegram objects
validate every assignment, which cost as much as building the button again (~4–5 buttons per
render, every update). `IntentKeyboardFactory` writes the same string without the second
validation: the data is the button's own, already validated `str`, and the prefix is the
intent id and a separator. The markup Telegram receives is the same (tests/windows).
"""

from __future__ import annotations

from typing import Any

from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup
from aiogram_dialog import DialogManager
from aiogram_dialog import Window as DialogWindow
from aiogram_dialog.api.internal.widgets import MarkupFactory, MarkupVariant, RawKeyboard
from aiogram_dialog.utils import CB_SEP


class IntentKeyboardFactory(MarkupFactory):
    """aiogram-dialog's `InlineKeyboardFactory`, prefixing callback data in place."""

    async def render_markup(
        self, data: dict[str, Any], manager: DialogManager, keyboard: RawKeyboard
    ) -> MarkupVariant:
        prefix = manager.current_context().id + CB_SEP
        for row in keyboard:
            for button in row:
                if not isinstance(button, InlineKeyboardButton):
                    continue
                callback_data = button.callback_data
                if callback_data is not None and not callback_data.startswith(prefix):
                    # The field is a validated str already; `button.callback_data = …` would
                    # validate the whole assignment again (pydantic's validate_assignment).
                    button.__dict__["callback_data"] = prefix + callback_data
        return InlineKeyboardMarkup(inline_keyboard=keyboard)  # type: ignore[arg-type]  # as theirs


INTENT_KEYBOARD = IntentKeyboardFactory()


class Window(DialogWindow):
    """A dialog window whose inline keyboard is finished by `IntentKeyboardFactory`."""

    def __init__(
        self, *widgets: Any, markup_factory: MarkupFactory = INTENT_KEYBOARD, **kwargs: Any
    ):
        super().__init__(*widgets, markup_factory=markup_factory, **kwargs)
