"""What the helpdesk needs from the sandbox, through aiogram over HTTP: a person edits her message
(edited_message), an administrator demotes an operator (chat_member, only when asked for), buttons
pressed in the helpdesk group, and the operators' menu by chat scope."""

from __future__ import annotations

import pytest
from aiogram import Bot
from aiogram.exceptions import TelegramBadRequest
from aiogram.types import (
    BotCommandScopeChat,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
)

from bot.app import set_bot_commands
from services.sandbox.botapi.errors import BotApiError
from tests.sandbox.conftest import HELPDESK_ID, OPERATOR_ID, TEACHER_ID, Emulator


async def test_a_person_edits_her_message_and_the_bot_gets_edited_message(
    bot: Bot, emulator: Emulator
) -> None:
    world = emulator.world
    sent = world.user_sends_text(TEACHER_ID, "Не приходит СМС")
    await bot.get_updates()  # the message itself

    world.user_edits_text(TEACHER_ID, sent["message_id"], "Не приходит СМС на 8 903")

    [update] = await bot.get_updates(offset=-1)
    edited = update.edited_message
    assert edited is not None and edited.text == "Не приходит СМС на 8 903"
    assert edited.message_id == sent["message_id"] and edited.edit_date
    assert world.chats[TEACHER_ID].messages[sent["message_id"]]["text"].endswith("8 903")

    mine = await bot.send_message(TEACHER_ID, "Ответ бота")
    for message_id, text in (
        (mine.message_id, "чужое"),
        (sent["message_id"], "Не приходит СМС на 8 903"),
    ):
        with pytest.raises(BotApiError):  # not hers / not modified
            world.user_edits_text(TEACHER_ID, message_id, text)


async def test_a_demoted_operator_is_reported_only_to_a_bot_that_asked(
    bot: Bot, emulator: Emulator
) -> None:
    world = emulator.world
    await bot.get_updates(allowed_updates=["message"])
    world.change_member_status(HELPDESK_ID, OPERATOR_ID, "member")
    assert await bot.get_updates(timeout=0) == []  # chat_member is opt-in, as in Telegram
    assert (await bot.get_chat_member(HELPDESK_ID, OPERATOR_ID)).status == "member"

    await bot.get_updates(allowed_updates=["message", "chat_member"])
    world.change_member_status(HELPDESK_ID, OPERATOR_ID, "left")
    [update] = await bot.get_updates(timeout=0)
    changed = update.chat_member
    assert changed is not None and changed.chat.id == HELPDESK_ID
    assert (changed.old_chat_member.status, changed.new_chat_member.status) == ("member", "left")
    assert changed.new_chat_member.user.id == OPERATOR_ID


async def test_a_button_under_a_card_in_the_helpdesk_group(bot: Bot, emulator: Emulator) -> None:
    keyboard = InlineKeyboardMarkup(
        inline_keyboard=[[InlineKeyboardButton(text="🙋 Взять", callback_data="hd:take:1")]]
    )
    card = await bot.send_message(HELPDESK_ID, "Обращение #1", reply_markup=keyboard)
    await bot.get_updates()

    emulator.world.user_presses_button(OPERATOR_ID, HELPDESK_ID, card.message_id, "hd:take:1")

    [update] = await bot.get_updates(offset=-1)
    query = update.callback_query
    assert query is not None and query.data == "hd:take:1"
    assert query.message.chat.id == HELPDESK_ID and query.from_user.id == OPERATOR_ID
    assert await bot.answer_callback_query(query.id, text="Обращение ваше.")
    edited = await bot.edit_message_text(
        "Обращение #1 · Анна", chat_id=HELPDESK_ID, message_id=card.message_id
    )
    assert edited.text == "Обращение #1 · Анна" and edited.reply_markup is None
    with pytest.raises(TelegramBadRequest):
        await bot.edit_message_text(
            "Обращение #1 · Анна", chat_id=HELPDESK_ID, message_id=card.message_id
        )


async def test_the_operators_menu_lives_in_the_helpdesk_group_only(
    bot: Bot, emulator: Emulator
) -> None:
    await set_bot_commands(bot, helpdesk_chat_id=HELPDESK_ID)

    def seen(chat_id: int, user_id: int, admin: bool) -> list[str]:
        commands = emulator.world.commands.for_person(
            chat_id, user_id, "ru", private=chat_id == user_id, admin=admin
        )
        return [c["command"] for c in commands]

    assert seen(HELPDESK_ID, OPERATOR_ID, True) == ["take", "reply", "note", "close", "queue"]
    assert seen(TEACHER_ID, TEACHER_ID, False) == ["start", "help", "language"]
    group_menu = await bot.get_my_commands(
        scope=BotCommandScopeChat(chat_id=HELPDESK_ID), language_code="en"
    )
    first = group_menu[0]
    assert (first.command, first.description) == ("take", "Take the ticket (in its topic)")


async def test_a_link_to_a_teacher_on_a_card_is_a_mention_of_her(bot: Bot) -> None:
    sent = await bot.send_message(
        HELPDESK_ID,
        f'Учитель: <a href="tg://user?id={TEACHER_ID}">Мария</a> · <a href="tg://user?id=5">X</a>',
        parse_mode="HTML",
    )
    [mention] = sent.entities or []  # the unknown user's link is plain text, as in Telegram
    assert mention.type == "text_mention" and mention.user is not None
    assert (mention.user.id, mention.user.first_name) == (TEACHER_ID, "Мария")
