"""Scenario A (VK ID without a Sferum profile): the happy path and every refusal on the way."""

from __future__ import annotations

import logging

from aiogram.methods import DeleteMessage
from sqlalchemy import text

from services.clock import FakeClock
from tests.bot.helpers import (
    Demo,
    fill_personal_data,
    open_from_journal,
    reach_code,
    reach_password,
    reach_personal_data,
)
from tests.support.bot_app import BotApp

CASE = "vkid_no_profile"


async def test_teacher_links_a_new_profile_step_by_step(app: BotApp, demo: Demo) -> None:
    teacher = app.teacher(100)
    await teacher.send("/start " + await demo.token(CASE))
    assert "Здравствуйте, Андрей Сергеевич!" in teacher.last_text
    await teacher.click("Начнём")
    assert "VPN" in teacher.last_text and "Яндекс.Браузер" in teacher.last_text
    await teacher.click("VPN выключен, продолжить")
    assert "У вас уже есть учебный профиль Сферум" in teacher.last_text
    await teacher.click("Нет")
    assert "<i>Шаг 1 из 4–6</i>" in teacher.last_text  # the total depends on the phone
    assert teacher.reply_buttons() == ["📱 Отправить мой номер"]

    await teacher.send("8 (903) 111-22-02")
    assert "Шаг 2 из 6" in teacher.last_text
    assert "+7 *** ***-**-02" in teacher.last_text
    await teacher.click("Создать учебный профиль")
    assert "Пароль от VK ID" in teacher.last_text
    assert "Забыли или не установили пароль?" in teacher.buttons()

    await teacher.send(demo[CASE].vk_password or "")
    assert "звонок-сброс" in teacher.last_text
    assert "последние 4 цифры" in teacher.last_text
    assert "номера, с которого вам позвонили" in teacher.last_text  # not her own number
    assert "Звонок поступит в течение 0:56" in teacher.last_text  # the seed's «00:56»
    assert "Запросить код ещё раз" not in teacher.buttons()  # not before the call can come

    await teacher.send(await demo.last_code(CASE))
    assert "Напишите ваши настоящие ФИО" in teacher.last_text
    await fill_personal_data(teacher, "кузнецов андрей сергеевич", "03.09.1986", "Мужской")
    assert "ФИО: Кузнецов Андрей Сергеевич" in teacher.last_text
    assert "Дата рождения: 3 сентября 1986" in teacher.last_text
    assert "Пол: мужской" in teacher.last_text

    await teacher.click("Всё верно, продолжить")
    assert "Добавление профиля Сферум" in teacher.last_text
    assert "Кузнецов Андрей Сергеевич, ГБОУ Школа № 1234" in teacher.last_text
    assert teacher.buttons()[:2] == ["Отмена", "Привязать"]

    await teacher.click("Привязать")
    assert "успешно привязан" in teacher.last_text
    assert "VK Мессенджер" in teacher.last_text
    record = await app.sessions.get(100)
    assert record is not None and record.scenario == "new_profile"
    assert record.codes_requested == 1


async def test_password_is_deleted_and_never_logged_or_stored(
    app: BotApp, demo: Demo, caplog
) -> None:
    caplog.set_level(logging.DEBUG)
    teacher = app.teacher(101)
    await reach_password(teacher, demo)
    password = demo[CASE].vk_password or ""

    sent = await teacher.send(password)

    deleted = [c.message_id for c in app.telegram.calls_of(DeleteMessage)]
    assert sent.message_id in deleted
    assert sent.message_id not in teacher.log.messages
    assert password not in caplog.text
    await app.sessions.flush()  # link sessions are written behind
    async with app.engine.connect() as db:
        for table in ("fsm_records", "link_sessions", "analytics_events"):
            rows = (await db.execute(text(f"SELECT * FROM {table}"))).all()
            assert rows or table != "fsm_records"
            assert password not in repr(rows)


async def test_wrong_password_shows_attempts_left_then_locks(app: BotApp, demo: Demo) -> None:
    teacher = app.teacher(102)
    await reach_password(teacher, demo)

    await teacher.send("не-тот-пароль")
    assert "Пароль от VK ID неверный. Осталось 4 попытки." in teacher.last_text
    for _ in range(3):
        await teacher.send("не-тот-пароль")
    assert "Осталась 1 попытка." in teacher.last_text
    await teacher.send("не-тот-пароль")
    assert "приостановил вход по паролю" in teacher.last_text
    assert "через 15:00" in teacher.last_text
    assert "Забыли или не установили пароль?" in teacher.buttons()


async def test_wrong_code_shows_attempts_then_burns(
    app: BotApp, demo: Demo, clock: FakeClock
) -> None:
    teacher = app.teacher(103)
    await reach_code(teacher, demo)
    right = await demo.last_code(CASE)
    wrong = "0000" if right != "0000" else "1111"

    await teacher.send(wrong)
    assert "Код неверный. Осталось 4 попытки." in teacher.last_text
    for _ in range(4):
        await teacher.send(wrong)
    assert "этот код больше не действует" in teacher.last_text
    assert "Звонок поступит в течение" in teacher.last_text  # a new code once the time is up
    clock.advance(56)
    await teacher.send("12")  # any message shows the window again, now with the button
    assert "Запросить код ещё раз" in teacher.buttons()


async def test_expired_code_asks_for_a_new_one(app: BotApp, demo: Demo, clock: FakeClock) -> None:
    teacher = app.teacher(104)
    await reach_code(teacher, demo)
    code = await demo.last_code(CASE)
    clock.advance(601)

    await teacher.send(code)
    assert "Срок действия кода истёк" in teacher.last_text

    await teacher.click("Запросить код ещё раз")
    assert await demo.codes_received(CASE) == 2
    await teacher.send(await demo.last_code(CASE))
    assert "Напишите ваши настоящие ФИО" in teacher.last_text


async def test_the_code_can_be_asked_again_only_when_the_time_is_up(
    app: BotApp, demo: Demo, clock: FakeClock
) -> None:
    teacher = app.teacher(105)
    await reach_code(teacher, demo)
    clock.advance(20)

    await teacher.send("12")  # the window again: the time left, and no button to ask early
    assert "Звонок поступит в течение 0:36" in teacher.last_text
    assert not {"Запросить код ещё раз", "Получить код по SMS"} & set(teacher.buttons())
    assert await demo.codes_received(CASE) == 1

    clock.advance(36)
    await teacher.send("12")
    await teacher.click("Получить код по SMS")
    assert "SMS с кодом из 6 цифр отправлено на номер +7 *** ***-**-02" in teacher.last_text
    assert "SMS придёт в течение 1:15" in teacher.last_text
    await teacher.send(await demo.last_code(CASE))
    assert "Напишите ваши настоящие ФИО" in teacher.last_text


async def test_countdown_says_now_when_the_cooldown_is_over(
    app: BotApp, demo: Demo, clock: FakeClock
) -> None:
    teacher = app.teacher(106)
    await reach_code(teacher, demo)
    clock.advance(60)
    await teacher.send("12")  # not a code: the window answers and shows the timer again
    assert "Код должен состоять из 4 цифр" in teacher.last_text
    assert "Звонок не поступил? Запросите код ещё раз" in teacher.last_text
    assert "Запросить код ещё раз" in teacher.buttons()


async def test_change_number_goes_back_to_the_phone(app: BotApp, demo: Demo) -> None:
    teacher = app.teacher(107)
    await reach_code(teacher, demo)
    await teacher.click("Изменить номер")
    assert "Номер телефона" in teacher.last_text
    assert teacher.reply_buttons() == ["📱 Отправить мой номер"]
    await teacher.send(demo["no_vkid"].phone)  # not the number the e-journal has
    assert "не совпадает с номером в вашем профиле электронного журнала" in teacher.last_text
    assert "+7 *** ***-**-02" in teacher.last_text
    assert "Номер телефона" in teacher.last_text  # still the phone step
    await demo.confirm_phone("vkid_no_profile", demo["no_vkid"].phone)  # in the e-journal
    await teacher.send(demo["no_vkid"].phone)
    assert "Шаг 2 из 4" in teacher.last_text  # no VK ID on that number: registration


async def test_personal_data_is_checked_before_it_is_sent(app: BotApp, demo: Demo) -> None:
    teacher = app.teacher(108)
    await reach_personal_data(teacher, demo)

    await teacher.send("Andrei Kuznetsov")
    assert "русскими буквами" in teacher.last_text
    await teacher.send("Кузнецов")
    assert "фамилию, имя" in teacher.last_text
    await teacher.send("Кузнецов Андрей")
    assert "дату рождения" in teacher.last_text

    await teacher.send("31.02.1986")
    assert "Не получилось прочитать дату" in teacher.last_text
    await teacher.send("01.01.2015")
    assert "меньше 18 лет" in teacher.last_text
    await teacher.send("3 сентября 1986")
    assert "Выберите пол" in teacher.last_text
    await teacher.click("Мужской")

    await teacher.click("Изменить дату")
    await teacher.send("1986-09-04")
    assert "Дата рождения: 4 сентября 1986" in teacher.last_text
    await teacher.click("Всё верно, продолжить")
    assert "Добавление профиля Сферум" in teacher.last_text


async def test_cancel_on_the_consent_card_links_nothing(app: BotApp, demo: Demo) -> None:
    teacher = app.teacher(109)
    await reach_personal_data(teacher, demo)
    await fill_personal_data(teacher, "Кузнецов Андрей Сергеевич", "03/09/1986", "Мужской")
    await teacher.click("Всё верно, продолжить")
    await teacher.click("Отмена")
    await teacher.click("Да, отменить привязку")
    assert "Привязка отменена" in teacher.last_text


async def test_vpn_at_the_phone_step_is_explained_and_retried(app: BotApp, demo: Demo) -> None:
    teacher = app.teacher(110)
    await open_from_journal(teacher, demo, CASE, "Нет")
    await app.linking.dev_set_vpn(phone=demo[CASE].phone, enabled=True)

    await teacher.send(demo[CASE].phone)
    assert "не работает при включённом VPN" in teacher.last_text
    assert "VPN выключен — повторить" in teacher.buttons()

    await teacher.click("VPN выключен — повторить")
    assert "не работает при включённом VPN" in teacher.last_text  # still on

    await app.linking.dev_set_vpn(phone=demo[CASE].phone, enabled=False)
    await teacher.click("VPN выключен — повторить")
    assert "Создать учебный профиль" in teacher.buttons()


async def test_vpn_at_the_consent_step_keeps_the_card(app: BotApp, demo: Demo) -> None:
    teacher = app.teacher(111)
    await reach_personal_data(teacher, demo)
    await fill_personal_data(teacher, "Кузнецов Андрей Сергеевич", "3.9.1986", "Мужской")
    await teacher.click("Всё верно, продолжить")
    await app.linking.dev_set_vpn(phone=demo[CASE].phone, enabled=True)

    await teacher.click("Привязать")
    assert "не работает при включённом VPN" in teacher.last_text
    assert "Добавление профиля Сферум" in teacher.last_text

    await app.linking.dev_set_vpn(phone=demo[CASE].phone, enabled=False)
    await teacher.click("VPN выключен — повторить")
    assert "успешно привязан" in teacher.last_text


async def test_the_demo_vpn_teacher_is_stopped_at_the_phone(app: BotApp, demo: Demo) -> None:
    teacher = app.teacher(112)
    await open_from_journal(teacher, demo, "vpn")
    await teacher.send(demo["vpn"].phone)
    assert "не работает при включённом VPN" in teacher.last_text
