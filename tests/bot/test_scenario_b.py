"""Scenario B (the Sferum profile exists) and the registration variant (no VK ID at all)."""

from __future__ import annotations

from tests.bot.helpers import Demo, fill_personal_data, open_from_journal
from tests.support.bot_app import BotApp


async def test_existing_profile_not_authorised(app: BotApp, demo: Demo) -> None:
    case = "profile_exists"
    teacher = app.teacher(200)
    await open_from_journal(teacher, demo, case, "Да")
    await teacher.send(demo[case].phone)
    assert "Пароль от VK ID" in teacher.last_text
    assert "Шаг 2 из 6" in teacher.last_text

    await teacher.send(demo[case].vk_password or "")
    assert "Шаг 3 из 6" in teacher.last_text
    await teacher.send(await demo.last_code(case))
    assert "Ваш профиль для связки" in teacher.last_text
    assert "Иванова Мария Петровна" in teacher.last_text
    assert "Войти в другой аккаунт" in teacher.buttons()

    await teacher.click("Продолжить")
    assert "они из вашего учебного профиля Сферум" in teacher.last_text
    assert "ФИО: Иванова Мария Петровна" in teacher.last_text
    assert "Дата рождения: 14 марта 1985" in teacher.last_text
    assert "Пол: женский" in teacher.last_text

    await teacher.click("Всё верно, продолжить")
    assert "Добавление профиля Сферум" in teacher.last_text
    assert "будет создан" not in teacher.last_text
    await teacher.click("Привязать")
    assert "успешно привязан" in teacher.last_text
    assert "Иванова Мария Петровна" in teacher.last_text


async def test_existing_profile_already_authorised_skips_the_password(
    app: BotApp, demo: Demo
) -> None:
    case = "profile_exists_authorised"
    teacher = app.teacher(201)
    await open_from_journal(teacher, demo, case, "Да")
    await teacher.send(demo[case].phone)
    assert "Подтвердите вход" in teacher.last_text
    assert "Шаг 2 из 5" in teacher.last_text

    await teacher.send(await demo.last_code(case))
    await teacher.click("Продолжить")
    await teacher.click("Изменить пол")
    await teacher.click("Женский")
    assert "Пол: женский" in teacher.last_text
    await teacher.click("Всё верно, продолжить")
    await teacher.click("Привязать")
    assert "успешно привязан" in teacher.last_text


async def test_said_no_but_the_number_has_a_profile_continues_with_b(
    app: BotApp, demo: Demo
) -> None:
    case = "profile_exists"
    teacher = app.teacher(202)
    await open_from_journal(teacher, demo, case, "Нет")
    await teacher.send(demo[case].phone)
    assert "уже зарегистрирован учебный профиль Сферум" in teacher.last_text
    assert "Второй создавать не нужно" in teacher.last_text
    assert "Пароль от VK ID" in teacher.last_text
    assert "Создать учебный профиль" not in teacher.buttons()


async def test_sign_in_to_another_account_asks_the_phone_again(app: BotApp, demo: Demo) -> None:
    case = "profile_exists_authorised"
    teacher = app.teacher(203)
    await open_from_journal(teacher, demo, case)
    await teacher.send(demo[case].phone)
    await teacher.send(await demo.last_code(case))

    await teacher.click("Войти в другой аккаунт")
    assert "Номер телефона" in teacher.last_text
    assert teacher.reply_buttons() == ["📱 Отправить мой номер"]
    await demo.confirm_phone(case, demo["vkid_no_profile"].phone)  # her other number, in MESH
    await teacher.send(demo["vkid_no_profile"].phone)
    assert "Создать учебный профиль" in teacher.buttons()


async def test_registration_without_vk_id(app: BotApp, demo: Demo) -> None:
    case = "no_vkid"
    teacher = app.teacher(204)
    await open_from_journal(teacher, demo, case, "Не знаю")
    await teacher.send(demo[case].phone)
    assert "Шаг 2 из 4" in teacher.last_text
    assert "звонок-сброс" in teacher.last_text

    await teacher.send(await demo.last_code(case))
    assert "Шаг 3 из 4" in teacher.last_text
    await fill_personal_data(teacher, "Смирнова Ольга Викторовна", "12 апреля 1979", "Женский")
    await teacher.click("Всё верно, продолжить")
    assert "Шаг 4 из 4" in teacher.last_text
    await teacher.click("Привязать")
    assert "успешно привязан" in teacher.last_text
    assert "Смирнова Ольга Викторовна" in teacher.last_text


async def test_said_yes_but_there_is_no_profile(app: BotApp, demo: Demo) -> None:
    teacher = app.teacher(205)
    await open_from_journal(teacher, demo, "no_vkid", "Да")
    await teacher.send(demo["no_vkid"].phone)
    assert "учебный профиль Сферум не найден — создадим новый" in teacher.last_text
