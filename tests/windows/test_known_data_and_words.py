"""What the guide explains and what the bot already knows, through the real bot and backend:
the e-journal's name as one tap, what the check of «Не знаю» found, the phone step said once,
the password rule said once, VK ID and the study profile explained, the agreement notice."""

from __future__ import annotations

from tests.bot.helpers import Demo, open_from_journal, reach_personal_data
from tests.recovery.steps import reach_new_password
from tests.support.bot_app import BotApp

CASE = "vkid_no_profile"


async def test_the_name_from_the_e_journal_is_one_tap(app: BotApp, demo: Demo) -> None:
    teacher = app.teacher(960)
    await reach_personal_data(teacher, demo, CASE)
    assert "Да, это я: Кузнецов Андрей Сергеевич" in teacher.buttons()

    await teacher.click("Да, это я: Кузнецов Андрей Сергеевич")
    assert "дату рождения" in teacher.last_text
    await teacher.send("03.09.1986")
    await teacher.click("Мужской")
    assert "ФИО: Кузнецов Андрей Сергеевич" in teacher.last_text
    await teacher.click("Всё верно, продолжить")
    await teacher.click("Привязать")
    assert "успешно привязан" in teacher.last_text


async def test_scenario_b_offers_no_e_journal_name(app: BotApp, demo: Demo) -> None:
    case = "profile_exists_authorised"
    teacher = app.teacher(961)
    await open_from_journal(teacher, demo, case, "Да")
    await teacher.send(demo[case].phone)
    await teacher.send(await demo.last_code(case))
    await teacher.click("Продолжить")
    await teacher.click("Изменить ФИО")
    assert not [b for b in teacher.buttons() if b.startswith("Да, это я")]


async def test_after_i_dont_know_she_hears_what_the_check_found(app: BotApp, demo: Demo) -> None:
    found = app.teacher(962)
    await open_from_journal(found, demo, "profile_exists", "Не знаю")
    await found.send(demo["profile_exists"].phone)
    assert "На этот номер учебный профиль Сферум найден — привяжем его" in found.last_text

    not_found = app.teacher(963)
    await open_from_journal(not_found, demo, CASE, "Не знаю")
    await not_found.send(demo[CASE].phone)
    assert "учебный профиль Сферум не найден — создадим новый" in not_found.last_text


async def test_the_phone_step_says_its_instruction_once(app: BotApp, demo: Demo) -> None:
    teacher = app.teacher(964)
    await open_from_journal(teacher, demo, CASE, "Нет")
    said = [m.text or "" for m in teacher.bot_messages()[-2:]]  # the keyboard's note, the window
    assert sum(text.count("Напишите номер") for text in said) == 1
    assert sum(text.count("📱") for text in said) == 0  # the icon is on the button only
    assert teacher.reply_buttons() == ["📱 Отправить мой номер"]
    window = said[-1]
    assert "Регистрация ВКонтакте не нужна, а если аккаунт уже есть, его никто не увидит" in window
    assert "ваш личный профиль нигде не отобразится" in window
    assert "VK ID</b> — это вход, которым Сферум проверяет, что это вы" in window
    assert "пользовательское соглашение</a>" in window
    assert "политику конфиденциальности</a>" in window
    assert 'href="https://vk.com/terms"' in window


async def test_the_branch_question_says_what_a_study_profile_is(app: BotApp, demo: Demo) -> None:
    teacher = app.teacher(965)
    await teacher.send("/start " + await demo.token(CASE))
    await teacher.click("Начнём")
    await teacher.click("VPN выключен, продолжить")
    assert "Учебный профиль Сферум</b> — это ваша учётная запись учителя" in teacher.last_text


async def test_the_password_rule_appears_once_in_the_weak_password_answer(
    app: BotApp, demo: Demo
) -> None:
    teacher = app.teacher(966)
    await reach_new_password(teacher, demo)
    await teacher.send("parol1234")
    window = teacher.last_text
    assert window.count("Минимум 8 символов") == 1
    assert "Добавьте: заглавную букву, спецсимвол" in window
