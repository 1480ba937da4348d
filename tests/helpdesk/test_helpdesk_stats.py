"""The helpdesk figures of /stats through the real bot: first response, backlog, operators."""

from __future__ import annotations

from datetime import timedelta

from services.helpdesk import MessageDirection
from tests.helpdesk.harness import ADMIN, only_topic, walk_to_phone_step

TEACHER = 100


async def open_ticket(hd, demo):  # type: ignore[no-untyped-def]
    teacher = hd.teacher(TEACHER)
    await walk_to_phone_step(teacher, await demo.token("vkid_no_profile"))
    await teacher.send("позовите человека")
    assert "Обращение #1" in teacher.last_text
    return teacher


async def test_the_first_response_is_the_first_answer_relayed_to_the_teacher(
    hd, demo, bot_clock
) -> None:
    await open_ticket(hd, demo)
    opened = (await hd.relay.tickets.get(1)).opened_at
    thread = only_topic(hd)
    olga, pavel = hd.operator(7, "Ольга"), hd.operator(8, "Павел")

    bot_clock.advance(60)
    await olga.say("/note сначала посмотрю журнал", thread_id=thread)  # internal: no answer
    ticket = await hd.relay.tickets.get(1)
    assert ticket.first_response_at is None

    bot_clock.advance(120)
    await pavel.say("Здравствуйте! Сейчас помогу.", thread_id=thread)
    bot_clock.advance(60)
    await olga.say("Я тоже здесь.", thread_id=thread)

    ticket = await hd.relay.tickets.get(1)
    waited = ticket.first_response_at.replace(tzinfo=None) - opened.replace(tzinfo=None)
    assert waited == timedelta(minutes=3)
    assert (ticket.first_responder_id, ticket.first_responder_name) == (8, "Павел")
    answers = await hd.relay.tickets.messages(1, MessageDirection.OPERATOR)
    assert len(answers) == 2  # both relayed; only the first one counts


async def test_stats_show_first_response_backlog_and_operators(hd, demo, bot_clock) -> None:
    await open_ticket(hd, demo)
    thread = only_topic(hd)
    olga = hd.operator(7, "Ольга")
    bot_clock.advance(180)
    await olga.say("/take", thread_id=thread)
    await olga.say("Здравствуйте! Сейчас помогу.", thread_id=thread)
    bot_clock.advance(120)

    admin = hd.teacher(ADMIN, "Админ")
    await admin.send("/stats today")

    text = admin.bot_messages()[-2].text  # the chart comes last
    helpdesk = text[text.index("🙋") :].splitlines()
    assert helpdesk == [
        "🙋 <b>Поддержка</b> · today",
        "Обращений: 1 · с ответом: 1 · ещё без ответа: 0",
        "Первый ответ: медиана 3 мин · 90% быстрее 3 мин",
        "Открыто сейчас: 1 (без ответа: 0) · дольше всех ждёт: 5 мин",
        "<b>Специалисты</b>",
        "Ольга: взял(а) 1 · закрыл(а) 0 · ответил(а) первым 1 (3 мин)",
    ]


async def test_without_a_helpdesk_or_tickets_stats_say_nothing_about_it(hd) -> None:
    hd.settings.helpdesk_chat_id = None
    admin = hd.teacher(ADMIN, "Админ")
    await admin.send("/stats today")
    assert "🙋" not in admin.last_text
    assert "За этот период событий нет." in admin.last_text
