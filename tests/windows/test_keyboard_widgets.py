"""Our keyboard widgets (bot/widgets) give Telegram exactly what aiogram-dialog's would.

`Button` skips the empty style's two awaited calls and `IntentKeyboardFactory` prefixes the
callback data without validating the assignment again (issue 13: the render path); the markup
must not change for the teacher.
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from aiogram.types import InlineKeyboardButton
from aiogram_dialog.widgets.kbd import Button as DialogButton
from aiogram_dialog.widgets.kbd import Row
from aiogram_dialog.widgets.markup.inline_keyboard import InlineKeyboardFactory
from aiogram_dialog.widgets.style import Style
from aiogram_dialog.widgets.text import Const

from bot.widgets.kbd import Button
from bot.widgets.window import IntentKeyboardFactory


def _manager(intent_id: str) -> Any:
    context = SimpleNamespace(id=intent_id)
    return SimpleNamespace(current_context=lambda: context)


def _keyboard() -> list[list[InlineKeyboardButton]]:
    return [
        [
            InlineKeyboardButton(text="Назад", callback_data="nav_back"),
            InlineKeyboardButton(text="Начать заново", callback_data="nav_restart"),
        ],
        [InlineKeyboardButton(text="Правила", url="https://example.org/terms")],
        [InlineKeyboardButton(text="Уже", callback_data="aB3\x1dretry")],  # prefixed before
    ]


async def test_intent_keyboard_is_the_markup_aiogram_dialog_builds() -> None:
    manager = _manager("aB3")
    theirs = await InlineKeyboardFactory().render_markup({}, manager, _keyboard())
    ours = await IntentKeyboardFactory().render_markup({}, manager, _keyboard())

    assert ours == theirs
    assert ours.model_dump(exclude_none=True) == theirs.model_dump(exclude_none=True)
    assert [b.callback_data for row in ours.inline_keyboard for b in row] == [
        "aB3\x1dnav_back",
        "aB3\x1dnav_restart",
        None,
        "aB3\x1dretry",
    ]


async def test_button_renders_what_aiogram_dialogs_button_renders() -> None:
    manager = _manager("x")
    for when, data in ((None, {}), ("shown", {"shown": True}), ("shown", {})):
        ours = Row(Button(Const("Начнём"), id="begin", when=when))
        theirs = Row(DialogButton(Const("Начнём"), id="begin", when=when))
        assert await ours.render_keyboard(data, manager) == await theirs.render_keyboard(
            data, manager
        )


async def test_a_styled_button_keeps_its_style() -> None:
    styled = Button(Const("Привязать"), id="link", style=Style(style="success", emoji_id="42"))
    [[button]] = await styled.render_keyboard({}, _manager("x"))
    assert (button.style, button.icon_custom_emoji_id) == ("success", "42")
