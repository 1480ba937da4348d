"""setMyCommands / getMyCommands / deleteMyCommands by scope and language, through aiogram, and
the menu a person sees on «/», resolved in the order the Bot API documents."""

from __future__ import annotations

import aiohttp
import pytest
from aiogram import Bot
from aiogram.types import (
    BotCommand,
    BotCommandScopeAllChatAdministrators,
    BotCommandScopeAllPrivateChats,
    BotCommandScopeChat,
    BotCommandScopeChatAdministrators,
    BotCommandScopeChatMember,
    BotCommandScopeDefault,
)

from tests.sandbox.conftest import (
    HELPDESK_ID,
    OPERATOR_ID,
    OTHER_TEACHER_ID,
    TEACHER_ID,
    TOKEN,
    Emulator,
)


def menu(*pairs: tuple[str, str]) -> list[BotCommand]:
    return [BotCommand(command=c, description=d) for c, d in pairs]


def seen(emulator: Emulator, user_id: int, language: str, chat_id: int | None = None) -> list[str]:
    world = emulator.world
    chat_id = user_id if chat_id is None else chat_id
    status = world.chats[chat_id].members.get(user_id) if chat_id in world.chats else None
    commands = world.commands.for_person(
        chat_id,
        user_id,
        language,
        private=chat_id == user_id,
        admin=status in {"creator", "administrator"},
    )
    return [c["command"] for c in commands]


async def test_each_scope_and_language_is_its_own_slot(bot: Bot, emulator: Emulator):
    await bot.set_my_commands(menu(("start", "Начать")))
    await bot.set_my_commands(menu(("start", "Start")), language_code="en")
    await bot.set_my_commands(
        menu(("help", "Help")), scope=BotCommandScopeChat(chat_id=TEACHER_ID), language_code="en"
    )
    en = await bot.get_my_commands(language_code="en")
    assert [(c.command, c.description) for c in en] == [("start", "Start")]
    assert [c.description for c in await bot.get_my_commands()] == ["Начать"]
    # getMyCommands answers exactly the slot asked for, never a fallback.
    assert await bot.get_my_commands(language_code="de") == []
    assert await bot.get_my_commands(scope=BotCommandScopeAllPrivateChats()) == []
    chat_en = await bot.get_my_commands(
        scope=BotCommandScopeChat(chat_id=TEACHER_ID), language_code="en"
    )
    assert [c.command for c in chat_en] == ["help"]

    assert await bot.delete_my_commands(language_code="en")
    assert await bot.get_my_commands(language_code="en") == []
    assert await bot.set_my_commands([], scope=BotCommandScopeDefault())  # empty = deleted
    assert await bot.get_my_commands() == []


async def test_a_private_chat_takes_the_first_list_set(bot: Bot, emulator: Emulator):
    await bot.set_my_commands(menu(("start", "Начать")))
    await bot.set_my_commands(menu(("start", "Start"), ("help", "Help")), language_code="en")
    assert seen(emulator, TEACHER_ID, "ru") == ["start"]
    assert seen(emulator, TEACHER_ID, "en") == ["start", "help"]
    assert seen(emulator, TEACHER_ID, "fr") == ["start"]  # no French: the language-less list

    await bot.set_my_commands(menu(("language", "Язык")), scope=BotCommandScopeAllPrivateChats())
    assert seen(emulator, TEACHER_ID, "en") == ["language"]  # a narrower scope wins
    await bot.set_my_commands(
        menu(("stop", "Stop")), scope=BotCommandScopeChat(chat_id=OTHER_TEACHER_ID)
    )
    assert seen(emulator, OTHER_TEACHER_ID, "ru") == ["stop"]
    assert seen(emulator, TEACHER_ID, "ru") == ["language"]


async def test_a_group_tells_administrators_and_members_apart(bot: Bot, emulator: Emulator):
    await bot.set_my_commands(menu(("start", "Начать")))
    await bot.set_my_commands(menu(("take", "Взять")), scope=BotCommandScopeAllChatAdministrators())
    assert seen(emulator, OPERATOR_ID, "ru", HELPDESK_ID) == ["take"]
    assert seen(emulator, TEACHER_ID, "ru", HELPDESK_ID) == ["start"]  # not an administrator
    await bot.set_my_commands(
        menu(("close", "Закрыть")), scope=BotCommandScopeChatAdministrators(chat_id=HELPDESK_ID)
    )
    assert seen(emulator, OPERATOR_ID, "ru", HELPDESK_ID) == ["close"]
    await bot.set_my_commands(
        menu(("note", "Заметка")),
        scope=BotCommandScopeChatMember(chat_id=HELPDESK_ID, user_id=OPERATOR_ID),
    )
    assert seen(emulator, OPERATOR_ID, "ru", HELPDESK_ID) == ["note"]


@pytest.mark.parametrize(
    ("params", "error"),
    [
        ({"language_code": "english"}, "invalid language code"),
        ({"scope": '{"type": "everyone"}'}, "BotCommandScope"),
        ({"scope": '{"type": "chat"}'}, "chat_id is required"),
        ({"scope": '{"type": "chat_member", "chat_id": 1}'}, "user_id is required"),
    ],
)
async def test_bad_scopes_and_languages_are_refused(emulator: Emulator, params, error):
    body = {"commands": '[{"command": "start", "description": "x"}]', **params}
    async with aiohttp.ClientSession() as http:
        for method in ("setMyCommands", "getMyCommands", "deleteMyCommands"):
            async with http.post(f"{emulator.url}/bot{TOKEN}/{method}", data=body) as response:
                answer = await response.json()
            assert response.status == 400 and error in answer["description"], answer
    assert emulator.world.commands.get(("default", None, None), "") == []
