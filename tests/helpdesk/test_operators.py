"""The helpdesk side: commands, permissions, no-topics mode, lost topics, refusals, restarts."""

from __future__ import annotations

from aiogram.exceptions import TelegramRetryAfter
from aiogram.methods import CreateForumTopic, SendMessage
from aiogram.types import Chat

from services.helpdesk import MessageDirection
from tests.helpdesk.harness import HELPDESK, Operator, only_topic, walk_to_phone_step

TEACHER = 100
HER = "👩‍🏫 <b>Кузнецов А.</b>\n"  # how the group shows her messages: hers, by name


async def open_ticket(hd, demo):  # type: ignore[no-untyped-def]
    teacher = hd.teacher(TEACHER)
    await walk_to_phone_step(teacher, await demo.token("vkid_no_profile"))
    await teacher.send("позовите человека")
    assert "Обращение #1" in teacher.last_text
    return teacher


async def test_note_stays_internal_and_take_updates_the_card(hd, demo) -> None:
    teacher = await open_ticket(hd, demo)
    thread = only_topic(hd)
    operator = hd.operator(7, "Ольга")
    seen_by_teacher = len(teacher.bot_messages())

    await operator.say("/note звонила в школу, ждём ответа", thread_id=thread)
    assert len(teacher.bot_messages()) == seen_by_teacher  # the note did not reach the teacher
    await operator.say("/take", thread_id=thread)

    # She is told, once, that a person handles her request.
    assert teacher.last_text == (
        "👤 Вашим обращением #1 занимается Ольга из службы поддержки — ответ придёт сюда."
    )
    await operator.say("/take", thread_id=thread)
    assert len(teacher.bot_messages()) == seen_by_teacher + 1
    topic = hd.chat.texts(thread)
    assert "📝 Заметка сохранена. Учитель её не видит." in topic
    assert "👤 Ольга взял(а) обращение." in topic
    card = hd.chat.messages(thread)[0].text
    assert "Оператор: Ольга" in card
    assert "📝 Заметка: звонила в школу, ждём ответа" in card
    ticket = await hd.relay.tickets.get(1)
    assert (ticket.assignee_id, ticket.assignee_name) == (7, "Ольга")
    notes = await hd.relay.tickets.notes(1)
    assert [n.text for n in notes] == ["звонила в школу, ждём ответа"]


async def test_non_members_and_other_chats_cannot_act_on_a_ticket(hd, demo) -> None:
    teacher = await open_ticket(hd, demo)
    thread = only_topic(hd)
    stranger = hd.operator(9, "Чужой", member=False)
    seen_by_teacher = len(teacher.bot_messages())

    await stranger.say("Я не оператор", thread_id=thread)
    await stranger.say("/close", thread_id=thread)
    await stranger.say("/take", thread_id=thread)

    assert len(teacher.bot_messages()) == seen_by_teacher
    ticket = await hd.relay.tickets.get(1)
    assert (ticket.status, ticket.assignee_id) == ("open", None)

    # An operator's command outside a ticket's topic does nothing.
    member = hd.operator(7)
    await member.say("/close")  # the general topic
    other_group = Chat(id=-100777, type="supergroup", title="Другая группа", is_forum=True)
    elsewhere = Operator(hd.dp, hd.bot, hd.telegram, user_id=7, chat=other_group)
    hd.people.append(elsewhere)
    await elsewhere.say("/close", thread_id=thread)
    assert (await hd.relay.tickets.get(1)).status == "open"
    assert not hd.telegram.chat(-100777).messages.get(2)  # no answer in the other group

    # The teacher typing /close in her own chat does not close her ticket either.
    await teacher.send("/close")
    assert (await hd.relay.tickets.get(1)).status == "open"


async def test_no_topics_mode_reply_to_the_card_or_a_relayed_message(
    hd_without_topics, demo
) -> None:
    hd = hd_without_topics
    teacher = await open_ticket(hd, demo)
    assert not hd.telegram.topics
    card = hd.chat.messages()[0]
    assert "Обращение #1" in card.text and "сделайте «Ответить» на эту карточку" in card.text

    await teacher.send("Не приходит СМС")
    relayed = hd.chat.messages()[-1]
    assert relayed.text == HER + "Не приходит СМС"
    copy_call = hd.telegram.calls_of(SendMessage)[-1]
    assert copy_call.reply_parameters.message_id == card.message_id  # shown as a reply to the card

    operator = hd.operator(7)
    await operator.say("Проверьте номер", reply_to=card)
    assert teacher.last_text == "<b>Ольга, служба поддержки:</b>\nПроверьте номер"
    await operator.say("И отключите VPN", reply_to=relayed)
    assert teacher.last_text == "<b>Ольга, служба поддержки:</b>\nИ отключите VPN"
    await operator.say("Просто сообщение в чат")  # not a reply: not for any teacher
    assert teacher.last_text == "<b>Ольга, служба поддержки:</b>\nИ отключите VPN"

    await operator.say("/close", reply_to=card)
    assert "Как вы оцениваете помощь?" in teacher.last_text


async def test_a_deleted_topic_is_recreated_with_the_card_on_the_next_message(hd, demo) -> None:
    teacher = await open_ticket(hd, demo)
    old_thread = only_topic(hd)
    hd.telegram.delete_topic(HELPDESK, old_thread)

    await teacher.send("Вы здесь?")

    new_thread = only_topic(hd)
    assert new_thread != old_thread
    assert len(hd.telegram.calls_of(CreateForumTopic)) == 2
    texts = hd.chat.texts(new_thread)
    assert texts[0].startswith("🆘 <b>Обращение #1</b>")  # the card, re-posted
    assert "♻️ Тема была удалена" in texts[1]
    assert texts[2] == HER + "Вы здесь?"
    assert (await hd.relay.tickets.get(1)).thread_id == new_thread

    operator = hd.operator(7)
    await operator.say("Да, здесь", thread_id=new_thread)
    assert teacher.last_text == "<b>Ольга, служба поддержки:</b>\nДа, здесь"


async def test_a_refused_delivery_is_reported_in_the_topic(hd, demo) -> None:
    await open_ticket(hd, demo)
    thread = only_topic(hd)
    operator = hd.operator(7)
    hd.telegram.blocked_by.add(TEACHER)

    answer = await operator.say("Ответ, который не дойдёт", thread_id=thread)

    report = hd.chat.messages(thread)[-1]
    assert report.text == "⚠️ Не доставлено учителю: учитель заблокировал бота"
    refused = await hd.relay.tickets.messages(1, MessageDirection.REFUSED)
    assert [(m.text, m.delivered, m.helpdesk_message_id) for m in refused] == [
        ("Ответ, который не дойдёт", False, answer.message_id)
    ]


async def test_an_answer_to_a_closed_ticket_is_not_lost_silently(hd, demo) -> None:
    teacher = await open_ticket(hd, demo)
    thread = only_topic(hd)
    operator = hd.operator(7)
    await teacher.click("Завершить разговор")
    await teacher.click("Пропустить")
    seen_by_teacher = len(teacher.bot_messages())

    await operator.say("Ещё вопрос", thread_id=thread)

    assert len(teacher.bot_messages()) == seen_by_teacher
    assert hd.chat.texts(thread)[-1] == "⚠️ Обращение закрыто: учителю не отправлено."


async def test_an_open_ticket_survives_a_restart(hd, demo) -> None:
    teacher = await open_ticket(hd, demo)
    thread = only_topic(hd)
    operator = hd.operator(7)

    await hd.restart()  # new Dispatcher and storage, same database

    await teacher.send("Я всё ещё жду")
    assert hd.chat.texts(thread)[-1] == HER + "Я всё ещё жду"
    await operator.say("Уже отвечаю", thread_id=thread)
    assert teacher.last_text == "<b>Ольга, служба поддержки:</b>\nУже отвечаю"
    await operator.say("/close", thread_id=thread)
    assert "Как вы оцениваете помощь?" in teacher.last_text
    await teacher.click("5 ⭐")
    await teacher.click("Пропустить")
    assert "Номер телефона" in teacher.last_text


async def test_flood_control_while_relaying_waits_and_delivers(hd, demo) -> None:
    teacher = await open_ticket(hd, demo)
    thread = only_topic(hd)
    hd.telegram.fail_next(
        "SendMessage",
        TelegramRetryAfter(
            method=SendMessage(chat_id=HELPDESK, text="x"),
            message="Too Many Requests: retry after 9",
            retry_after=9,
        ),
    )

    await teacher.send("Сообщение в час пик")

    assert hd.chat.texts(thread)[-1] == HER + "Сообщение в час пик"
    assert 9.0 in hd.time.sleeps
