"""Whatever a teacher sends, the step stays where it was and she is told what it needs."""

from __future__ import annotations

from bot.intents import MAX_TEXT_LENGTH
from tests.bot.helpers import Demo, open_from_journal, reach_code
from tests.support.bot_app import BotApp

CASE = "vkid_no_profile"


async def test_sticker_photo_and_voice_get_a_short_answer(app: BotApp, demo: Demo) -> None:
    teacher = app.teacher(500)
    await open_from_journal(teacher, demo, CASE)

    await teacher.send_sticker()
    assert "понимаю только текст и кнопки" in teacher.last_text
    assert "Номер телефона" in teacher.last_text
    await teacher.send_photo()
    assert "Номер телефона" in teacher.last_text
    await teacher.send_document()
    assert "понимаю только текст и кнопки" in teacher.last_text

    await teacher.send(demo[CASE].phone)  # the step still works
    assert "Создать учебный профиль" in teacher.buttons()


async def test_very_long_text_is_refused_politely(app: BotApp, demo: Demo) -> None:
    teacher = app.teacher(501)
    await reach_code(teacher, demo)
    await teacher.send("1" * 5000)
    assert "слишком длинное" in teacher.last_text
    assert "Подтвердите вход" in teacher.last_text


async def test_one_too_long_limit_on_a_step_and_outside_any_dialog(app: BotApp, demo: Demo) -> None:
    outside = app.teacher(503)
    await outside.send("а" * (MAX_TEXT_LENGTH + 1))
    assert "слишком длинное" in outside.last_text
    await outside.send("а" * MAX_TEXT_LENGTH)
    assert "слишком длинное" not in outside.last_text

    teacher = app.teacher(504)
    await reach_code(teacher, demo)
    await teacher.send("1" * (MAX_TEXT_LENGTH + 1))
    assert "слишком длинное" in teacher.last_text


async def test_unknown_command_mid_step(app: BotApp, demo: Demo) -> None:
    teacher = app.teacher(502)
    await reach_code(teacher, demo)
    await teacher.send("/stop")
    assert "Такой команды я не знаю" in teacher.last_text
    assert "Подтвердите вход" in teacher.last_text
    await teacher.send(await demo.last_code(CASE))
    assert "Напишите ваши настоящие ФИО" in teacher.last_text


async def test_malformed_phone_numbers(app: BotApp, demo: Demo) -> None:
    teacher = app.teacher(503)
    await open_from_journal(teacher, demo, CASE)
    for wrong in ("123", "+1 212 555 0100", "8 495 123-45-67", "телефон"):
        await teacher.send(wrong)
        assert "Не получилось прочитать номер" in teacher.last_text, wrong
    await teacher.send("+7 (903) 111 22 02")
    assert "Создать учебный профиль" in teacher.buttons()


async def test_someone_elses_contact_is_not_accepted(app: BotApp, demo: Demo) -> None:
    teacher = app.teacher(504)
    await open_from_journal(teacher, demo, CASE)
    await teacher.share_contact(demo[CASE].phone.removeprefix("+"), own=False)
    assert "Это чужой контакт" in teacher.last_text

    await teacher.share_contact(demo[CASE].phone.removeprefix("+"))
    assert "Номер +7 *** ***-**-02 получен." in teacher.bot_messages()[-2].text
    assert teacher.reply_buttons() == []  # the contact keyboard is gone
    assert "Создать учебный профиль" in teacher.buttons()


async def test_text_on_a_buttons_only_window(app: BotApp, demo: Demo) -> None:
    teacher = app.teacher(505)
    await open_from_journal(teacher, demo, CASE, "Нет")
    await teacher.send(demo[CASE].phone)
    await teacher.send("просто текст")
    assert "нажмите кнопку «Создать учебный профиль» ниже" in teacher.last_text
    assert "Создать учебный профиль" in teacher.buttons()


async def test_messages_outside_any_dialog(app: BotApp) -> None:
    teacher = app.teacher(506)
    await teacher.send_sticker()
    assert "откройте меня из электронного журнала" in teacher.last_text
    await teacher.send("/unknown")
    assert "Такой команды я не знаю" in teacher.last_text


def _wrong(code: str) -> str:
    return "".join(str((int(digit) + 1) % 10) for digit in code)


async def test_too_many_wrong_codes_lock_the_number_and_point_to_the_helpdesk(
    app: BotApp, demo: Demo, clock
) -> None:
    teacher = app.teacher(503)
    await reach_code(teacher, demo)
    for batch in range(2):  # two codes' worth of wrong ones, as a stranger guessing would make
        if batch:
            clock.advance(56)
            await teacher.send("12")  # the window again, now with the resend button
            await teacher.click("Запросить код ещё раз")
        code = await demo.last_code(CASE)
        for _ in range(5):
            await teacher.send(_wrong(code))
    assert "слишком много неверных кодов" in teacher.last_text.lower()
    assert "«Не получается» → «🙋 Позвать специалиста»" in teacher.last_text
    assert "Не получается" in teacher.buttons()  # the way to the helpdesk is right there
