"""The helpdesk without traps: «Пропустить» the rating, which comes as a new message at the
bottom; «Вернуться к боту» keeps the ticket open while she links on; no contact keyboard while
she talks to a person; signed answers; and without a helpdesk chat, the school's contacts."""

from __future__ import annotations

from pathlib import Path

from services.linking.in_process import RunningBackend
from tests.bot.helpers import Demo, fill_personal_data
from tests.helpdesk.harness import HelpdeskApp, only_topic, walk_to_phone_step
from tests.support.bot_app import make_bot_app

CASE = "vkid_no_profile"


async def test_the_rating_comes_at_the_bottom_and_can_be_skipped(
    hd: HelpdeskApp, demo: Demo
) -> None:
    teacher = hd.teacher(950)
    await walk_to_phone_step(teacher, await demo.token(CASE))
    await teacher.send("позовите человека")
    handoff_window = teacher.last
    operator = hd.operator(7, "Анна")
    await operator.say("Добрый день! Чем помочь?", thread_id=only_topic(hd))
    await teacher.send("Уже разобралась, спасибо")

    await teacher.click("Завершить разговор", message=handoff_window)
    rating = teacher.last
    assert "Как вы оцениваете помощь?" in rating.text
    assert rating.message_id > handoff_window.message_id  # a new message, not the old window
    assert "Обращение #1" in teacher.log.messages[handoff_window.message_id].text
    assert "Пропустить" in teacher.buttons()

    await teacher.click("Пропустить")
    assert "Номер телефона" in teacher.last_text  # straight back to her step
    ticket = await hd.relay.tickets.get(1)
    assert ticket is not None and (ticket.status, ticket.rating) == ("closed", None)


async def test_back_to_the_bot_keeps_the_ticket_open_while_she_links_on(
    hd: HelpdeskApp, demo: Demo
) -> None:
    teacher = hd.teacher(951)
    await walk_to_phone_step(teacher, await demo.token(CASE))
    await teacher.send("позовите человека")
    thread = only_topic(hd)
    await teacher.click("Вернуться к боту")
    assert any("остаётся открытым" in (m.text or "") for m in teacher.bot_messages()[-3:])
    assert "Номер телефона" in teacher.last_text
    assert "✍️ Написать специалисту" in teacher.buttons()
    assert (await hd.relay.tickets.get(1)).is_open  # type: ignore[union-attr]

    operator = hd.operator(7, "Анна")  # the specialist answers while she is on her step
    await operator.say("Номер нужен тот же, что в VK ID", thread_id=thread)
    assert teacher.last_text == "<b>Анна, служба поддержки:</b>\nНомер нужен тот же, что в VK ID"

    await teacher.send(demo[CASE].phone)  # she links on
    assert "Создать учебный профиль" in teacher.buttons()
    assert "✍️ Написать специалисту" in teacher.buttons()
    await teacher.click("Написать специалисту")
    assert "Обращение #1" in teacher.last_text  # the same ticket, not a new one
    await teacher.send("Спасибо, номер приняли")
    assert hd.chat.texts(thread)[-1] == "👩\u200d🏫 <b>Кузнецов А.</b>\nСпасибо, номер приняли"
    await teacher.click("Вернуться к боту")
    assert "Создать учебный профиль" in teacher.buttons()

    await operator.say("/close", thread_id=thread)  # the rating comes over her step
    assert "Как вы оцениваете помощь?" in teacher.last_text
    await teacher.click("5 ⭐")
    await teacher.click("Пропустить")  # the comment
    assert "Создать учебный профиль" in teacher.buttons()
    assert "✍️ Написать специалисту" not in teacher.buttons()  # the ticket is closed now
    assert (await hd.relay.tickets.get(1)).rating == 5  # type: ignore[union-attr]

    await teacher.click("Создать учебный профиль")
    await teacher.send(demo[CASE].vk_password or "")
    await teacher.send(await demo.last_code(CASE))
    await fill_personal_data(teacher, "Кузнецов Андрей Сергеевич", "03.09.1986", "Мужской")
    await teacher.click("Всё верно, продолжить")
    await teacher.click("Привязать")
    assert "успешно привязан" in teacher.last_text
    assert len(hd.telegram.topics) == 1  # one ticket all along


async def test_no_contact_keyboard_while_she_talks_to_a_person(hd: HelpdeskApp, demo: Demo) -> None:
    teacher = hd.teacher(952)
    await walk_to_phone_step(teacher, await demo.token(CASE))
    assert teacher.reply_buttons() == ["📱 Отправить мой номер"]

    await teacher.send("позовите человека")
    assert teacher.reply_buttons() == []
    assert "Обращение #1" in teacher.last_text

    await teacher.click("Завершить разговор")
    await teacher.click("Пропустить")
    assert teacher.reply_buttons() == ["📱 Отправить мой номер"]  # back on the phone step
    await teacher.send(demo[CASE].phone)
    assert "Создать учебный профиль" in teacher.buttons()


async def test_the_answer_is_signed_in_the_teachers_language(hd: HelpdeskApp, demo: Demo) -> None:
    teacher = hd.teacher(953, language_code="en")
    await teacher.send("/start " + await demo.token(CASE))
    await teacher.send("call a human please")
    operator = hd.operator(7, "Анна")
    await operator.say("Hello! <b>Which</b> step?", thread_id=only_topic(hd))
    assert teacher.last_text == "<b>Анна, helpdesk:</b>\nHello! &lt;b&gt;Which&lt;/b&gt; step?"
    await operator.say_photo(thread_id=only_topic(hd))
    assert teacher.last.photo and teacher.last.caption == "<b>Анна, helpdesk:</b>"


async def test_without_a_helpdesk_the_screen_gives_the_schools_contacts(
    tmp_path: Path, backend: RunningBackend, clock, demo: Demo
) -> None:
    async with make_bot_app(
        tmp_path,
        backend.url,
        clock=clock,
        support_phone="+7 495 123-45-67",
        support_email="help@school1234.ru",
    ) as app:
        teacher = app.teacher(954)
        await walk_to_phone_step(teacher, await demo.token(CASE))
        await teacher.send("позовите человека")
        screen = teacher.last_text
        assert "никто не прочитает" in screen
        assert "+7 495 123-45-67" in screen and "help@school1234.ru" in screen
        assert "Завершить разговор" not in teacher.buttons()

        await teacher.send("Помогите, не получается")  # said again, not swallowed
        assert "+7 495 123-45-67" in teacher.last_text
        await teacher.click("Вернуться к боту")
        assert "Номер телефона" in teacher.last_text


async def test_without_a_helpdesk_or_contacts_she_is_told_whom_to_ask(
    tmp_path: Path, backend: RunningBackend, clock, demo: Demo
) -> None:
    async with make_bot_app(tmp_path, backend.url, clock=clock) as app:
        teacher = app.teacher(955)
        await walk_to_phone_step(teacher, await demo.token(CASE))
        await teacher.send("позовите человека")
        assert "кто отвечает в школе за электронный журнал" in teacher.last_text
