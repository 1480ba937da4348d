"""The operator's tools: the card's buttons, edits kept in sync both ways, her own command menu,
titles in plain words — and a member of the group who is not an operator pressing the buttons."""

from __future__ import annotations

from aiogram.methods import SendMessage, SetMyCommands
from aiogram.types import BotCommandScopeChat, BotCommandScopeDefault, Message

from bot.app import set_bot_commands
from tests.helpdesk.harness import HELPDESK, only_topic, walk_to_phone_step

TEACHER = 100
SIGNED = "<b>Ольга, служба поддержки:</b>\n"
TAKEN = "👤 Вашим обращением #1 занимается Ольга из службы поддержки — ответ придёт сюда."
PROMPT = "📝 Заметка к обращению #1: напишите её ответом на это сообщение; учитель её не увидит."


async def open_ticket(hd, demo):  # type: ignore[no-untyped-def]
    teacher = hd.teacher(TEACHER)
    await walk_to_phone_step(teacher, await demo.token("vkid_no_profile"))
    await teacher.send("позовите человека")
    assert "Обращение #1" in teacher.last_text
    return teacher


def card(hd) -> Message:  # type: ignore[no-untyped-def]
    return hd.chat.messages(only_topic(hd))[0]


def buttons(message: Message) -> list[str]:
    if message.reply_markup is None:
        return []
    return [b.text for row in message.reply_markup.inline_keyboard for b in row]


async def edit(person, message: Message, **changes) -> None:  # type: ignore[no-untyped-def]
    """The person edits `message`: Telegram sends an edited_message update."""
    await person.feed(edited_message=message.model_copy(update={**changes, "edit_date": 1}))


async def test_the_card_buttons_take_note_and_close(hd, demo) -> None:
    teacher = await open_ticket(hd, demo)
    thread = only_topic(hd)
    olga = hd.operator(7, "Ольга")
    assert buttons(card(hd)) == ["🙋 Взять", "✅ Закрыть", "📝 Заметка"]
    seen_by_teacher = len(teacher.bot_messages())

    answer = await olga.click("Взять", message=card(hd))
    assert answer.text == "Обращение ваше."
    assert teacher.last_text == TAKEN
    assert "Оператор: Ольга" in card(hd).text

    await olga.click("Заметка", message=card(hd))
    prompt = hd.chat.messages(thread)[-1]
    assert prompt.text == PROMPT
    assert hd.telegram.calls_of(SendMessage)[-1].reply_markup.force_reply  # a reply opens
    await olga.say("звонила в школу", thread_id=thread, reply_to=prompt)
    assert "📝 Заметка: звонила в школу" in card(hd).text
    assert hd.chat.texts(thread)[-1] == "📝 Заметка сохранена. Учитель её не видит."
    assert len(teacher.bot_messages()) == seen_by_teacher + 1  # only «занимается Ольга»

    await olga.click("Закрыть", message=card(hd))
    assert "Как вы оцениваете помощь?" in teacher.last_text
    assert (await hd.relay.tickets.get(1)).status == "closed"
    assert buttons(card(hd)) == []  # a closed ticket's card has no buttons


async def test_a_member_who_is_not_an_operator_presses_the_buttons_in_vain(hd, demo) -> None:
    teacher = await open_ticket(hd, demo)
    thread = only_topic(hd)
    member = hd.operator(9, "Посторонний", admin=False)
    seen_by_teacher = len(teacher.bot_messages())
    in_group = len(hd.chat.messages())

    for label in ("Взять", "Заметка", "Закрыть"):
        answer = await member.click(label, message=card(hd))
        assert answer.text == "Это могут только операторы поддержки." and answer.show_alert
    # A forged button for the same ticket, and a reply that imitates a note prompt's answer.
    await member.press(card(hd), "hd:close:1")
    olga = hd.operator(7, "Ольга")
    await olga.click("Заметка", message=card(hd))
    prompt = hd.chat.messages(thread)[-1]
    await member.say("/take", thread_id=thread, reply_to=prompt)
    await member.say("заметка чужого", thread_id=thread, reply_to=prompt)

    ticket = await hd.relay.tickets.get(1)
    assert (ticket.status, ticket.assignee_id) == ("open", None)
    assert await hd.relay.tickets.notes(1) == []
    assert len(teacher.bot_messages()) == seen_by_teacher  # nothing reached her
    assert len(hd.chat.messages()) == in_group + 3  # Olga's prompt and the member's two lines


async def test_edits_follow_both_ways(hd, demo) -> None:
    teacher = await open_ticket(hd, demo)
    thread = only_topic(hd)
    olga = hd.operator(7, "Ольга")

    answer = await olga.say("Перезагрузите страницу", thread_id=thread)
    copy = teacher.bot_messages()[-1]
    seen_by_teacher = len(teacher.bot_messages())
    await edit(olga, answer, text="Перезагрузите страницу и отключите VPN")
    edited_copy = teacher.log.messages[copy.message_id]
    assert edited_copy.text == SIGNED + "Перезагрузите страницу и отключите VPN"
    assert len(teacher.bot_messages()) == seen_by_teacher  # edited in place, nothing new

    hers = await teacher.send("Не приходит СМС")
    shown = hd.chat.messages(thread)[-1]
    await edit(teacher, hers, text="Не приходит СМС, пароль Qwerty123!")
    edited = hd.telegram.chat(HELPDESK).messages[shown.message_id].text
    assert edited == (
        "👩\u200d🏫 <b>Кузнецов А. · ✏️ исправлено</b>\nНе приходит СМС, пароль •••!\n"
        "<i>🔒 Скрыто то, что похоже на пароль, код или номер карты.</i>"
    )
    assert "Qwerty" not in edited

    # An edit by someone who is not an operator changes nothing on the teacher's side.
    member = hd.operator(9, "Посторонний", admin=False)
    await edit(member, answer, text="Пришлите пароль", from_user=member.user)
    assert teacher.log.messages[copy.message_id].text == edited_copy.text


async def test_reply_answers_from_the_topic_or_from_anywhere_by_number(hd, demo) -> None:
    teacher = await open_ticket(hd, demo)
    thread = only_topic(hd)
    olga = hd.operator(7, "Ольга")

    await olga.say("/reply /start не нужен, просто ждите", thread_id=thread)
    assert teacher.last_text == SIGNED + "/start не нужен, просто ждите"
    await olga.say("/reply #1 Проверьте номер")  # from the general topic
    assert teacher.last_text == SIGNED + "Проверьте номер"
    seen_by_teacher = len(teacher.bot_messages())
    await olga.say("/reply")  # nothing to send, no ticket: she is told how
    assert hd.chat.messages()[-1].text == (
        "Как ответить: /reply текст (в теме обращения) или /reply #номер текст"
    )
    assert len(teacher.bot_messages()) == seen_by_teacher


async def test_operators_get_their_own_menu_in_the_helpdesk_group(hd) -> None:
    await set_bot_commands(hd.bot, helpdesk_chat_id=HELPDESK)

    menus = {
        (type(call.scope).__name__, call.language_code): [c.command for c in call.commands]
        for call in hd.telegram.calls_of(SetMyCommands)
    }
    operators = ["take", "reply", "note", "close", "queue"]
    for language in ("ru", "en", None):
        assert menus[(BotCommandScopeChat.__name__, language)] == operators
        assert menus[(BotCommandScopeDefault.__name__, language)] == ["start", "help", "language"]
    chat_scopes = {
        call.scope.chat_id
        for call in hd.telegram.calls_of(SetMyCommands)
        if isinstance(call.scope, BotCommandScopeChat)
    }
    assert chat_scopes == {HELPDESK}
    ru = next(
        call
        for call in hd.telegram.calls_of(SetMyCommands)
        if isinstance(call.scope, BotCommandScopeChat) and call.language_code == "ru"
    )
    assert ru.commands[0].description == "Взять обращение (в его теме)"


async def test_a_ticket_from_the_first_screen_speaks_plainly(hd, demo) -> None:
    teacher = hd.teacher(TEACHER)
    await teacher.send("/start " + await demo.token("vkid_no_profile"))
    await teacher.send("позовите человека")  # before any scenario was chosen
    assert "Обращение #1" in teacher.last_text

    name = hd.telegram.topics[(HELPDESK, only_topic(hd))].name
    assert name.startswith("#1 · Кузнецов А. · ") and "?" not in name and ":" not in name
    text = card(hd).text
    assert "Onboarding" not in text and "<code>" not in text
    assert "Сценарий: сценарий ещё не определён" in text
