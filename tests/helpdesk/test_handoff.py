"""A teacher reaches a specialist and back, through the real Dispatcher."""

from __future__ import annotations

import asyncio

from aiogram.methods import CreateForumTopic

from services.helpdesk import MessageDirection
from services.storage.link_sessions import EventKind
from tests.helpdesk.harness import HELPDESK, only_topic, walk_to_phone_step

TEACHER = 100
HER = "👩‍🏫 <b>Кузнецов А.</b>\n"  # how the group shows her messages: hers, by name


async def test_help_screen_opens_a_ticket_with_topic_and_context_card(hd, demo) -> None:
    teacher = hd.teacher(TEACHER)
    await walk_to_phone_step(teacher, await demo.token("vkid_no_profile"))
    # What the dialogs have recorded by now (phone, a refusal, codes) shows on the card.
    await hd.sessions.enter_step(
        TEACHER, "Link:code", scenario="new_profile", phone_masked="+7 *** ***-**-77"
    )
    await hd.sessions.code_requested(TEACHER)
    await hd.sessions.code_requested(TEACHER)
    await hd.sessions.record_refusal(TEACHER, "code_invalid")
    await teacher.send("мой пароль Qwerty123! и код 4321")  # lands in the transcript, masked

    await teacher.click("Не получается")
    await teacher.click("Позвать специалиста")

    assert "Обращение #1" in teacher.last_text
    assert "ответит прямо здесь" in teacher.last_text and "10 мин" in teacher.last_text
    assert teacher.buttons() == ["✅ Завершить разговор", "↩️ Вернуться к боту"]
    thread = only_topic(hd)
    assert hd.telegram.topics[(HELPDESK, thread)].name == "#1 · Кузнецов А. · A: телефон"
    card = hd.chat.messages(thread)[0].text
    for line in (
        "Обращение #1",
        "Учитель: Кузнецов Андрей Сергеевич",
        "Сценарий: A: новый учебный профиль Сферум",
        "Шаг: телефон\n",  # where she asked for help, in words (no state name)
        'Учитель: Кузнецов Андрей Сергеевич · <a href="tg://user?id=100">Мария</a>',
        "Последние ошибки: code_invalid (код)",
        "Телефон: +7 *** ***-**-77",
        "Язык: ru",
        "Запрошено кодов: 2",
        "Оператор: не назначен",
        "мой пароль •••! и код •••",
    ):
        assert line in card, line
    assert "Qwerty" not in card and "4321" not in card
    assert "Link:" not in card and "<code>" not in card
    events = await hd.sessions.events(
        hd.clock.now().replace(year=2000), hd.clock.now().replace(year=2100)
    )
    assert [(e.kind, e.step) for e in events if e.kind == EventKind.HANDOFF] == [
        ("handoff", "Link:phone")
    ]


async def test_free_text_opens_a_ticket_and_the_rating_returns_to_the_same_step(hd, demo) -> None:
    teacher = hd.teacher(TEACHER)
    await walk_to_phone_step(teacher, await demo.token("vkid_no_profile"))
    await teacher.send("позовите человека")
    assert "Обращение #1" in teacher.last_text
    thread = only_topic(hd)
    operator = hd.operator(7, "Ольга")

    await operator.say("Здравствуйте! Какой номер вы вводите?", thread_id=thread)
    assert (
        teacher.last_text
        == "<b>Ольга, служба поддержки:</b>\nЗдравствуйте! Какой номер вы вводите?"
    )
    await operator.say("/close", thread_id=thread)

    assert "Как вы оцениваете помощь?" in teacher.last_text
    assert teacher.buttons() == ["1 ⭐", "2 ⭐", "3 ⭐", "4 ⭐", "5 ⭐", "Пропустить"]
    await teacher.click("4 ⭐")
    assert "комментарий" in teacher.last_text
    await teacher.send("Спасибо, всё понятно")

    texts = [m.text for m in teacher.bot_messages()[-3:]]
    assert "Спасибо за отзыв! Продолжим с шага" in texts[0]
    assert teacher.reply_buttons() == ["📱 Отправить мой номер"]  # back under the input field
    assert "Номер телефона" in texts[2]  # the very step she left
    ticket = await hd.relay.tickets.get(1)
    assert (ticket.status, ticket.rating, ticket.rating_comment) == (
        "closed",
        4,
        "Спасибо, всё понятно",
    )
    assert (HELPDESK, thread) in hd.telegram.closed_topics
    topic = hd.chat.texts(thread)
    assert "✅ Обращение закрыто: Ольга." in topic
    assert "⭐ Оценка учителя: 4/5" in topic
    assert "💬 Комментарий учителя: Спасибо, всё понятно" in topic
    events = await hd.sessions.events(
        hd.clock.now().replace(year=2000), hd.clock.now().replace(year=2100)
    )
    assert [(e.kind, e.value) for e in events if e.kind == EventKind.RATING] == [("rating", 4)]

    # The step works again as before: a phone number moves the linking on.
    await teacher.send("8 903 111-22-02")
    assert "Номер телефона" not in teacher.last_text


async def test_both_way_relay_of_text_photo_and_document(hd, demo) -> None:
    teacher = hd.teacher(TEACHER)
    await walk_to_phone_step(teacher, await demo.token("vkid_no_profile"))
    await teacher.send("позовите человека")
    thread = only_topic(hd)
    operator = hd.operator(7)

    await teacher.send("Не приходит код")
    await teacher.send_photo(caption="вот скриншот")
    await teacher.send_document("ошибка.pdf")

    relayed = hd.chat.messages(thread)[1:]
    assert relayed[0].text == HER + "Не приходит код"
    assert relayed[1].photo and relayed[1].caption == HER + "вот скриншот"
    assert relayed[2].document.file_name == "ошибка.pdf"
    assert teacher.last_text.startswith("🙋 <b>Обращение #1")  # her window stays put

    await operator.say("Пришлите, пожалуйста, номер ещё раз", thread_id=thread)
    await operator.say_photo(thread_id=thread, caption="Нажмите сюда")
    answers = teacher.bot_messages()[-2:]
    assert answers[0].text == "<b>Ольга, служба поддержки:</b>\nПришлите, пожалуйста, номер ещё раз"
    assert (
        answers[1].photo and answers[1].caption == "<b>Ольга, служба поддержки:</b>\nНажмите сюда"
    )

    log = await hd.relay.tickets.messages(1)
    assert [(m.direction, m.kind) for m in log] == [
        (MessageDirection.TEACHER, "text"),
        (MessageDirection.TEACHER, "photo"),
        (MessageDirection.TEACHER, "document"),
        (MessageDirection.OPERATOR, "text"),
        (MessageDirection.OPERATOR, "photo"),
    ]


async def test_teacher_can_end_the_conversation_or_go_back_to_the_bot(hd, demo) -> None:
    teacher = hd.teacher(TEACHER)
    await walk_to_phone_step(teacher, await demo.token("vkid_no_profile"))
    await teacher.send("позовите человека")
    await teacher.click("Завершить разговор")
    assert "Как вы оцениваете помощь?" in teacher.last_text
    await teacher.click("5 ⭐")
    await teacher.click("Пропустить")
    assert "Номер телефона" in teacher.last_text
    assert "✅ Учитель завершил(а) разговор." in hd.chat.texts()

    await teacher.send("оператор")  # a second handoff: a new ticket
    assert "Обращение #2" in teacher.last_text
    await teacher.click("Вернуться к боту")
    assert "Номер телефона" in teacher.last_text
    second = await hd.relay.tickets.get(2)
    assert (second.status, second.rating) == ("open", None)  # the specialist may still answer


async def test_a_burst_of_first_messages_opens_one_ticket_and_one_topic(hd, demo) -> None:
    teacher = hd.teacher(TEACHER)
    await walk_to_phone_step(teacher, await demo.token("vkid_no_profile"))

    await asyncio.gather(*(teacher.send("позовите человека") for _ in range(5)))

    assert len(hd.telegram.calls_of(CreateForumTopic)) == 1
    thread = only_topic(hd)
    assert await hd.relay.tickets.open_for_user(TEACHER) is not None
    assert await hd.relay.tickets.get(2) is None
    # The messages after the first one reached the topic instead of opening anything.
    assert hd.chat.texts(thread)[1:] == [HER + "позовите человека"] * 4


async def test_two_relays_racing_to_open_make_one_ticket(hd, demo) -> None:
    teacher = hd.teacher(TEACHER)
    await walk_to_phone_step(teacher, await demo.token("vkid_no_profile"))
    results = await asyncio.gather(
        *(
            hd.relay.open_ticket(
                hd.bot, user=teacher.user, chat_id=TEACHER, reason="help", step="Link:phone"
            )
            for _ in range(6)
        )
    )
    assert {r.ticket.id for r in results} == {1}
    assert len(hd.telegram.calls_of(CreateForumTopic)) == 1


async def test_outside_working_hours_the_teacher_is_told_when(hd, demo, bot_clock) -> None:
    from datetime import UTC, datetime

    teacher = hd.teacher(TEACHER)
    await walk_to_phone_step(teacher, await demo.token("vkid_no_profile"))
    bot_clock.set(datetime(2026, 11, 27, 16, 30, tzinfo=UTC))  # Friday 19:30 in Moscow
    await teacher.send("позовите человека")
    assert "Сейчас нерабочее время" in teacher.last_text
    assert "30.11 после 09:00" in teacher.last_text  # Monday


async def test_a_ticket_opened_from_help_returns_straight_to_the_step_not_to_help(hd, demo) -> None:
    teacher = hd.teacher(TEACHER)
    await walk_to_phone_step(teacher, await demo.token("vkid_no_profile"))
    await teacher.click("Не получается")
    await teacher.click("Позвать специалиста")
    thread = only_topic(hd)
    operator = hd.operator(7, "Ольга")

    await operator.say("/close", thread_id=thread)
    await teacher.click("5 ⭐")
    await teacher.click("Пропустить")

    assert "Номер телефона" in teacher.last_text  # the step itself, not the help screen
    assert "Вернуться к шагу" not in " ".join(teacher.buttons())
