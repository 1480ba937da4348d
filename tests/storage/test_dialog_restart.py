"""An aiogram-dialog wizard on SQLStorage: the teacher's place survives a bot restart."""

from __future__ import annotations

from typing import Any

import pytest
from aiogram import Bot, Dispatcher
from aiogram.filters import CommandStart
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import Message
from aiogram_dialog import Dialog, DialogManager, StartMode, Window, setup_dialogs
from aiogram_dialog.widgets.input import ManagedTextInput, TextInput
from aiogram_dialog.widgets.kbd import SwitchTo
from aiogram_dialog.widgets.text import Const, Format
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.middlewares.storage_scope import StorageScopeMiddleware
from services.storage.fsm import SQLStorage
from tests.support.fake_telegram import FakeTelegram, Person

pytestmark = pytest.mark.parametrize(
    "database_url", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True
)


class Wizard(StatesGroup):
    welcome = State()
    phone = State()
    code = State()


async def remember_phone(
    _message: Message, _widget: ManagedTextInput, manager: DialogManager, text: str
) -> None:
    manager.dialog_data["phone_tail"] = text[-2:]
    await manager.next()


async def phone_tail(dialog_manager: DialogManager, **_kwargs: Any) -> dict[str, Any]:
    return {"tail": dialog_manager.dialog_data.get("phone_tail", "??")}


def build_bot(storage: SQLStorage) -> Dispatcher:
    """What bot/app.py wires for the SQL storage, reduced to one small dialog."""
    dispatcher = Dispatcher(storage=storage)
    dispatcher.update.outer_middleware(StorageScopeMiddleware(storage))

    @dispatcher.message(CommandStart())
    async def start(message: Message, dialog_manager: DialogManager) -> None:
        await dialog_manager.start(Wizard.welcome, mode=StartMode.RESET_STACK)

    dispatcher.include_router(
        Dialog(
            Window(
                Const("Здравствуйте!"),
                SwitchTo(Const("Перейти к подключению"), id="go", state=Wizard.phone),
                state=Wizard.welcome,
            ),
            Window(
                Const("Ваш телефон?"),
                TextInput(id="phone", on_success=remember_phone),
                state=Wizard.phone,
            ),
            Window(
                Format("Код отправлен на номер, оканчивающийся на {tail}"),
                state=Wizard.code,
                getter=phone_tail,
            ),
        )
    )
    setup_dialogs(dispatcher)
    return dispatcher


async def test_restart_mid_dialog_resumes_where_the_teacher_was(engine: AsyncEngine) -> None:
    telegram = FakeTelegram()
    bot = Bot("4242:TEST-TOKEN", session=telegram)

    storage = SQLStorage(engine)
    teacher = Person(build_bot(storage), bot, telegram, user_id=100)
    await teacher.send("/start")
    await teacher.click("Перейти к подключению")
    assert teacher.last_text == "Ваш телефон?"
    await storage.close()  # the bot stops

    restarted = SQLStorage(engine)
    teacher = Person(build_bot(restarted), bot, telegram, user_id=100)
    await teacher.send("+7 999 123-45-77")
    assert teacher.last_text == "Код отправлен на номер, оканчивающийся на 77"
    await restarted.close()
