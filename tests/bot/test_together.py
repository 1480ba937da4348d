"""The Link dialog with the other parts: recovery and back, help, free text, background updates."""

from __future__ import annotations

from aiogram.methods import SetMyCommands

from bot.app import set_bot_commands
from tests.bot.helpers import Demo, open_from_journal, reach_code, reach_password
from tests.support.bot_app import BotApp

NEW_PASSWORD = "Novyi#Parol2026"


async def test_forgotten_password_comes_back_to_the_password_step(app: BotApp, demo: Demo) -> None:
    case = "forgot_password_email"
    account = demo[case]
    teacher = app.teacher(900)
    await open_from_journal(teacher, demo, case, "Да")
    await teacher.send(account.phone)
    assert "Пароль от VK ID" in teacher.last_text

    await teacher.click("Забыли или не установили пароль?")
    assert "SMS" in teacher.last_text  # the phone is already known: straight to the SMS code
    await teacher.send(await demo.last_code(case))
    await teacher.click(teacher.buttons()[0])  # «Да, это я»
    await teacher.click("почт")  # by e-mail
    mail = await app.linking.dev_mailbox(account.email or "")
    await teacher.send(mail[-1].code)
    await teacher.send(NEW_PASSWORD)
    await teacher.send(NEW_PASSWORD)

    # Signed in by the recovery: no third password, straight on to the code.
    assert "Пароль изменён, и VK ID уже впустил вас" in teacher.last_text
    assert "Подтвердите вход" in teacher.last_text


async def test_back_from_recovery_shows_the_password_window_again(app: BotApp, demo: Demo) -> None:
    teacher = app.teacher(901)
    await reach_password(teacher, demo)
    await teacher.click("Забыли или не установили пароль?")
    await teacher.click("Назад")
    assert "Пароль от VK ID" in teacher.last_text
    assert "Пароль изменён" not in teacher.last_text


async def test_it_does_not_work_opens_help_for_this_step(app: BotApp, demo: Demo) -> None:
    teacher = app.teacher(902)
    await reach_code(teacher, demo)
    await teacher.click("Не получается")
    assert "Код не приходит?" in teacher.last_text
    assert "Изменить номер" in teacher.last_text

    await teacher.click("Вернуться к шагу")
    assert "Подтвердите вход" in teacher.last_text
    await teacher.send(await demo.last_code("vkid_no_profile"))
    assert "Напишите ваши настоящие ФИО" in teacher.last_text


async def test_free_text_at_the_code_step_is_understood(app: BotApp, demo: Demo) -> None:
    teacher = app.teacher(903)
    await reach_code(teacher, demo)
    await teacher.send("не приходит смс")
    assert "Код не приходит?" in teacher.last_text
    await teacher.click("Вернуться к шагу")
    assert "Подтвердите вход" in teacher.last_text


async def test_free_text_instead_of_a_password_is_a_request(app: BotApp, demo: Demo) -> None:
    teacher = app.teacher(905)
    await reach_password(teacher, demo)
    await teacher.send("я забыла пароль")
    # The phone is known: straight to the SMS code of the recovery.
    assert "Восстановление пароля · шаг 2 из 6" in teacher.last_text
    assert "Введите код" in teacher.last_text
    assert await demo.codes_received("vkid_no_profile") == 1  # the recovery's SMS
    record = await app.sessions.get(905)
    assert record is not None and not record.last_errors  # no password attempt was spent


async def test_background_update_renders_in_the_teachers_language(app: BotApp, demo: Demo) -> None:
    teacher = app.teacher(904)
    await open_from_journal(teacher, demo, "vkid_no_profile")
    await teacher.send("/language")
    await teacher.click("English")
    bg = app.dp["bg_factory"].bg(app.bot, user_id=904, chat_id=904)
    await bg.update({})
    assert "Phone number" in teacher.last_text


async def test_command_menu_in_both_languages(app: BotApp) -> None:
    await set_bot_commands(app.bot)
    menus = {call.language_code: call for call in app.telegram.calls_of(SetMyCommands)}
    assert set(menus) == {"ru", "en", None}
    for menu in menus.values():
        assert [c.command for c in menu.commands] == ["start", "help", "language"]
    assert menus["en"].commands[0].description == "Start linking"
