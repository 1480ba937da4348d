"""The dispatch shortcuts of bot/routing.py give the outcomes of aiogram's own router walk.

Each behaviour test runs twice: on a plain aiogram Dispatcher with the dialogs included one by one
(the reference), and on `BotDispatcher` with the dialogs under a `DialogSwitch` (the bot's way).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from aiogram import Bot, Dispatcher, F, Router
from aiogram.filters import Command
from aiogram.fsm.state import State, StatesGroup
from aiogram.fsm.storage.base import DefaultKeyBuilder
from aiogram.fsm.storage.memory import MemoryStorage
from aiogram.types import CallbackQuery, Message, TelegramObject
from aiogram_dialog import Dialog, DialogManager, StartMode, Window, setup_dialogs
from aiogram_dialog.widgets.input import MessageInput
from aiogram_dialog.widgets.kbd import Button
from aiogram_dialog.widgets.text import Const

from bot.dialogs.all import get_dialogs
from bot.handlers.admin import ADMIN_ROUTER_NAME as ADMIN
from bot.handlers.fallback import FALLBACK_ROUTER_NAME as FALLBACK
from bot.handlers.helpdesk import HELPDESK_ROUTER_NAME as HELPDESK
from bot.routing import DIALOGS_ROUTER_NAME as DIALOGS
from bot.routing import BotDispatcher, DialogSwitch, can_take
from tests.support.bot_app import BotApp
from tests.support.fake_telegram import FakeTelegram, Person


class GroupA(StatesGroup):
    window = State()


class GroupB(StatesGroup):
    window = State()


class GroupC(StatesGroup):  # its dialog is outside the switch, after the fallback
    window = State()


Log = list[tuple[str, str]]


def _dialog(name: str, group: type[StatesGroup], log: Log) -> Dialog:
    async def took_text(message: Message, widget: Any, manager: DialogManager) -> None:
        log.append((name, message.text or ""))

    async def took_button(callback: CallbackQuery, button: Any, manager: DialogManager) -> None:
        log.append((name, "button"))

    return Dialog(
        Window(
            Const(f"Окно {name}"),
            MessageInput(took_text),
            Button(Const(f"Кнопка {name}"), id="press", on_click=took_button),
            state=group.window,
        )
    )


def build(
    switch: bool, log: Log, *, dialog_a_middleware: bool = False
) -> tuple[Dispatcher, Bot, FakeTelegram]:
    telegram = FakeTelegram()
    bot = Bot("42:TEST", session=telegram)
    kind = BotDispatcher if switch else Dispatcher
    dp = kind(storage=MemoryStorage(), key_builder=DefaultKeyBuilder(with_destiny=True))

    commands = Router(name="commands")
    for command, group in (("a", GroupA), ("b", GroupB), ("c", GroupC)):

        async def start(message: Message, dialog_manager: DialogManager, group=group) -> None:
            await dialog_manager.start(group.window, mode=StartMode.RESET_STACK)

        commands.message.register(start, Command(command))
    dp.include_router(commands)

    only_buttons = Router(name="only_buttons")  # nothing for messages

    async def never(callback: CallbackQuery) -> None:
        log.append(("only_buttons", callback.data or ""))

    only_buttons.callback_query.register(never, F.data == "never sent")
    dp.include_router(only_buttons)

    dialog_a, dialog_b = _dialog("A", GroupA, log), _dialog("B", GroupB, log)
    if dialog_a_middleware:

        async def seen_by_a(
            handler: Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]],
            event: TelegramObject,
            data: dict[str, Any],
        ) -> Any:
            log.append(("A's middleware", getattr(event, "text", None) or ""))
            return await handler(event, data)

        dialog_a.message.outer_middleware(seen_by_a)
    if switch:
        dp.include_router(DialogSwitch([dialog_a, dialog_b]))
    else:
        dp.include_router(dialog_a)
        dp.include_router(dialog_b)

    fallback = Router(name="fallback")

    async def on_any_message(message: Message) -> None:
        log.append(("fallback", message.text or ""))
        await message.answer("Не понял")

    fallback.message.register(on_any_message)
    dp.include_router(fallback)
    dp.include_router(_dialog("C", GroupC, log))  # like aiogram-dialog's own "about" dialog
    setup_dialogs(dp)
    return dp, bot, telegram


FLAVOURS = pytest.mark.parametrize("switch", [False, True], ids=["aiogram", "switch"])


@FLAVOURS
async def test_an_update_in_a_dialogs_state_is_taken_by_that_dialog_only(switch: bool) -> None:
    log: Log = []
    dp, bot, telegram = build(switch, log)
    teacher = Person(dp, bot, telegram, user_id=501)

    await teacher.send("/b")
    assert teacher.last_text == "Окно B"
    await teacher.send("привет")
    await teacher.click("Кнопка B")
    await teacher.send("/a")
    await teacher.send("ещё")
    await teacher.click("Кнопка A")

    assert log == [("B", "привет"), ("B", "button"), ("A", "ещё"), ("A", "button")]


@FLAVOURS
async def test_without_a_dialog_the_fallback_answers(switch: bool) -> None:
    log: Log = []
    dp, bot, telegram = build(switch, log)
    teacher = Person(dp, bot, telegram, user_id=502)

    await teacher.send("привет")

    assert log == [("fallback", "привет")]
    assert teacher.last_text == "Не понял"


@FLAVOURS
async def test_a_dialog_outside_the_switch_is_reached_only_after_the_fallback(
    switch: bool,
) -> None:
    log: Log = []
    dp, bot, telegram = build(switch, log)
    teacher = Person(dp, bot, telegram, user_id=503)

    await teacher.send("/c")
    assert teacher.last_text == "Окно C"
    await teacher.send("привет")  # no dialog of the switch has C's group: the fallback's
    await teacher.click("Кнопка C")  # the fallback takes no buttons: C's window does

    assert log == [("fallback", "привет"), ("C", "button")]


@FLAVOURS
async def test_a_dialog_with_its_own_outer_middleware_is_walked_as_aiogram_does(
    switch: bool,
) -> None:
    log: Log = []
    dp, bot, telegram = build(switch, log, dialog_a_middleware=True)
    teacher = Person(dp, bot, telegram, user_id=504)

    await teacher.send("/b")
    await teacher.send("привет")  # A's middleware runs before A's filter turns it away

    assert log == [("A's middleware", "привет"), ("B", "привет")]


async def test_routers_with_nothing_for_a_type_are_not_visited() -> None:
    log: Log = []
    dp, _bot, _telegram = build(True, log)
    assert isinstance(dp, BotDispatcher)
    names = {
        kind: [router.name for router in dp.routes(kind)]
        for kind in ("message", "edited_message", "callback_query")
    }

    about = "AiogramDialogStates"  # aiogram-dialog's own dialog, included by setup_dialogs
    assert names["message"] == ["commands", "dialogs", "fallback", "GroupC", about]
    assert names["callback_query"] == ["only_buttons", "dialogs", "GroupC", about]
    assert names["edited_message"] == []


async def test_an_outer_middleware_keeps_its_router_on_the_path() -> None:
    router = Router()
    assert not can_take(router, "message")

    async def middleware(handler: Any, event: TelegramObject, data: dict[str, Any]) -> Any:
        return await handler(event, data)

    router.message.outer_middleware(middleware)
    assert can_take(router, "message")
    assert not can_take(router, "callback_query")
    parent = Router()
    parent.include_router(router)
    assert can_take(parent, "message")


async def test_the_bot_visits_only_the_routers_that_can_take_a_teachers_update(
    app: BotApp,
) -> None:
    dp = app.dp
    assert isinstance(dp, BotDispatcher)
    switches = [router for router in dp.sub_routers if isinstance(router, DialogSwitch)]
    assert len(switches) == 1
    assert {dialog.states_group() for dialog in switches[0].sub_routers} == {
        dialog.states_group() for dialog in get_dialogs()
    }
    message = [router.name for router in dp.routes("message")]
    button = [router.name for router in dp.routes("callback_query")]
    about = "AiogramDialogStates"  # aiogram-dialog's own dialog, included by setup_dialogs
    # The errors router (errors only) is never on a teacher's path, the old-window one (buttons
    # only) not on a message's, the admin one (commands) not on a button's; the order stays:
    # the helpdesk first, /start and /language before the dialogs, the fallback after them.
    assert message == [HELPDESK, "start", "language", ADMIN, DIALOGS, FALLBACK, about]
    assert button == [HELPDESK, "start", "old_windows", "language", DIALOGS, FALLBACK, about]
