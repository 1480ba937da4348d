"""Scenario C from the password step of A and of B: recover, come back, link with the new one."""

from __future__ import annotations

from tests.bot.helpers import Demo, fill_personal_data, open_from_journal, reach_password
from tests.recovery.steps import (
    NEW_PASSWORD,
    app_code,
    confirm_account,
    email_code,
    set_new_password,
)
from tests.support.bot_app import BotApp


async def test_scenario_a_recovers_by_app_and_links_with_the_new_password(
    app: BotApp, demo: Demo
) -> None:
    case = "forgot_password_app"
    teacher = app.teacher(300)
    await reach_password(teacher, demo, case)

    await teacher.click("Забыли или не установили пароль?")
    assert "SMS с кодом отправлено на телефон +7 *** ***-**-07" in teacher.last_text
    assert "Восстановление пароля · шаг 2 из 6" in teacher.last_text
    assert "Отправить SMS через 1:15" in teacher.buttons()

    await teacher.send(await demo.last_code(case))
    assert "Это ваш аккаунт?" in teacher.last_text
    assert "Сергей В." in teacher.last_text
    await teacher.click("Да, это я")
    assert "Как вы хотите подтвердить, что аккаунт принадлежит вам?" in teacher.last_text
    buttons = teacher.buttons()
    assert "С помощью приложения-генератора кодов" in buttons
    assert "С помощью друзей, которым доверяете" in buttons
    assert "С помощью электронной почты" not in buttons  # this account has no e-mail

    await teacher.click("С помощью приложения-генератора кодов")
    assert "Код из приложения-генератора кодов" in teacher.last_text
    await teacher.send(await app_code(demo, case))
    assert "Придумайте новый пароль" in teacher.last_text
    assert "Минимум 8 символов — заглавные и строчные буквы, цифры и спецсимволы" in (
        teacher.last_text
    )

    await teacher.send(NEW_PASSWORD)
    assert "Повторите новый пароль" in teacher.last_text
    assert "⬜️ Выйти на всех устройствах, кроме этого" in teacher.buttons()
    await teacher.click("Выйти на всех устройствах, кроме этого")
    assert "☑️ Выйти на всех устройствах, кроме этого" in teacher.buttons()
    await teacher.send(NEW_PASSWORD)

    # Back in A, signed in by the recovery as VK ID does: no third password, on to the code.
    assert "Пароль изменён, и VK ID уже впустил вас" in teacher.last_text
    assert "последние 4 цифры" in teacher.last_text
    assert "Пароль от VK ID" not in teacher.last_text
    await teacher.send(await demo.last_code(case))
    await fill_personal_data(teacher, "Волков Сергей Игоревич", "08.08.1983", "Мужской")
    await teacher.click("Всё верно, продолжить")
    await teacher.click("Привязать")
    assert "успешно привязан" in teacher.last_text


async def test_scenario_b_recovers_by_email_and_links_with_the_new_password(
    app: BotApp, demo: Demo
) -> None:
    case = "forgot_password_email"
    teacher = app.teacher(301)
    await open_from_journal(teacher, demo, case, "Да")
    await teacher.send(demo[case].phone)
    assert "Забыли или не установили пароль?" in teacher.buttons()

    await teacher.click("Забыли или не установили пароль?")
    await confirm_account(teacher, demo, case)
    assert "С помощью электронной почты" in teacher.buttons()
    assert "код придёт на почту ka***@mail.ru" in teacher.last_text

    await teacher.click("С помощью электронной почты")
    assert "Введите код из письма" in teacher.last_text
    assert "Код отправлен на почту ka***@mail.ru" in teacher.last_text
    assert "Отправить код повторно 4:51" in teacher.buttons()
    assert "У меня нет доступа к почте" in teacher.buttons()
    await teacher.send(await email_code(demo, case))
    await set_new_password(teacher)

    assert "Пароль изменён" in teacher.last_text
    assert "Подтвердите вход" in teacher.last_text  # B goes on to the code as well
    await teacher.send(await demo.last_code(case))
    assert "Ваш профиль для связки" in teacher.last_text
