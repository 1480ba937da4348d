"""«Назад», «Начать заново», resuming after a restart, old and forged buttons."""

from __future__ import annotations

from services.clock import FakeClock
from tests.bot.helpers import Demo, open_from_journal, reach_code, reach_password
from tests.support.bot_app import BotApp


async def test_back_returns_to_the_screen_actually_seen(app: BotApp, demo: Demo) -> None:
    case = "profile_exists_authorised"
    teacher = app.teacher(400)
    await open_from_journal(teacher, demo, case)
    await teacher.send(demo[case].phone)
    assert "Подтвердите вход" in teacher.last_text  # B, authorised: no password window seen

    await teacher.click("Назад")
    assert "Номер телефона" in teacher.last_text  # not the password window of the states order
    await teacher.click("Назад")
    assert "У вас уже есть учебный профиль Сферум" in teacher.last_text


async def test_back_from_the_password_shows_the_account_card(app: BotApp, demo: Demo) -> None:
    teacher = app.teacher(401)
    await reach_password(teacher, demo)
    await teacher.click("Назад")
    assert "Проверьте учётные данные" in teacher.last_text
    await teacher.click("Создать учебный профиль")
    assert "Пароль от VK ID" in teacher.last_text


async def test_start_over_goes_back_to_the_greeting_of_the_same_linking(
    app: BotApp, demo: Demo, clock: FakeClock
) -> None:
    teacher = app.teacher(402)
    await reach_code(teacher, demo)
    await teacher.click("Начать заново")
    assert "Начать заново?" in teacher.last_text  # the password given would be lost: asked
    await teacher.click("Да, начать заново")
    assert "Здравствуйте, Андрей Сергеевич!" in teacher.last_text
    clock.advance(56)  # the code's cooldown carries over into the fresh flow
    await teacher.click("Начнём")
    await teacher.click("VPN выключен, продолжить")
    await teacher.click("Нет")
    await teacher.send(demo["vkid_no_profile"].phone)
    assert "Создать учебный профиль" in teacher.buttons()


async def test_teacher_resumes_at_the_same_step_after_a_restart(app: BotApp, demo: Demo) -> None:
    teacher = app.teacher(403)
    await reach_code(teacher, demo)
    code = await demo.last_code("vkid_no_profile")

    await app.restart()

    await teacher.send(code)
    assert "Напишите ваши настоящие ФИО" in teacher.last_text
    await teacher.click("Назад")  # the history survived: it knows the code step came before
    assert "Туда вернуться не получится" in teacher.last_text


async def test_buttons_of_an_old_window_after_a_restart_still_work(app: BotApp, demo: Demo) -> None:
    teacher = app.teacher(404)
    await reach_password(teacher, demo)
    window = teacher.last
    await app.restart()
    await teacher.click("Назад", message=window)
    assert "Проверьте учётные данные" in teacher.last_text


async def test_a_button_from_a_finished_dialog_offers_continue_or_restart(
    app: BotApp, demo: Demo
) -> None:
    teacher = app.teacher(405)
    await open_from_journal(teacher, demo, "vkid_no_profile")
    old_window = teacher.last
    await teacher.send("/start " + await demo.token("profile_exists"))  # a new linking

    answer = await teacher.click("Начать заново", message=old_window)
    assert answer.text == "Эта кнопка уже не работает."
    assert "Продолжим с того места" in teacher.last_text
    assert teacher.buttons() == ["Продолжить", "Начать заново"]

    await teacher.click("Продолжить")
    assert "Здравствуйте, Мария Петровна!" in teacher.last_text


async def test_forged_callback_data_never_breaks_the_step(app: BotApp, demo: Demo) -> None:
    teacher = app.teacher(406)
    await open_from_journal(teacher, demo, "vkid_no_profile")
    window = teacher.last

    for data in ("garbage" * 8, "lang:xx", ""):
        await teacher.press(window, data)
    assert "Номер телефона" in teacher.last_text  # nothing happened, the step is intact

    answer = await teacher.press(window, "zzzz\x1dnav_back")  # an intent that never existed
    assert answer.text == "Эта кнопка уже не работает."
    await teacher.click("Продолжить")
    assert "Номер телефона" in teacher.last_text
    await teacher.send(demo["vkid_no_profile"].phone)
    assert "Создать учебный профиль" in teacher.buttons()


async def test_unknown_button_outside_any_dialog(app: BotApp) -> None:
    teacher = app.teacher(407)
    await teacher.send("/language")
    answer = await teacher.press(teacher.last, "something-old")
    assert answer.text == "Эта кнопка уже не работает."
    await teacher.click("Начать заново")
    assert "Перейти к подключению" in teacher.last_text
