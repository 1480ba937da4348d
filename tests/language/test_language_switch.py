"""/language is in the command menu, and after switching, buttons of the window as it was drawn
in the old language do not act: they show the step again, in the new language."""

from __future__ import annotations

from aiogram.methods import SetMyCommands

from bot.app import set_bot_commands
from services.linking_client import FlowState
from tests.bot.helpers import Demo, reach_code
from tests.support.bot_app import BotApp

CASE = "vkid_no_profile"


async def test_the_command_menu_lists_language_in_every_language(app: BotApp) -> None:
    await set_bot_commands(app.bot)
    menus = {call.language_code: call.commands for call in app.telegram.calls_of(SetMyCommands)}
    assert set(menus) == {"ru", "en", None}  # None: the default for any other language
    for commands in menus.values():
        assert "language" in [command.command for command in commands]


async def test_an_old_language_button_shows_the_step_in_the_new_language(
    app: BotApp, demo: Demo
) -> None:
    teacher = app.teacher(980)
    await reach_code(teacher, demo, CASE)
    russian_window = teacher.last
    change_number = next(
        button.callback_data
        for row in russian_window.reply_markup.inline_keyboard  # type: ignore[union-attr]
        for button in row
        if button.text == "Изменить номер"
    )

    await teacher.send("/language")
    await teacher.click("English")
    assert "Confirm the sign-in" in teacher.last_text

    answer = await teacher.press(russian_window, change_number or "")
    assert answer.text == "That was an earlier copy of this step. Here it is now."
    assert "Confirm the sign-in" in teacher.last_text  # not the phone step: nothing acted
    assert "Change the number" in teacher.buttons()
    record = await app.sessions.get(980)
    assert record is not None
    flow = await app.linking.for_user(980).get_flow(record.flow_id or "")
    assert flow.state is FlowState.CODE

    await teacher.click("Change the number")  # the current window's buttons work
    assert "Phone number" in teacher.last_text
