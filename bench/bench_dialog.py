"""The scenario the benchmark drives: a short aiogram-dialog wizard, and a bare echo bot."""

from __future__ import annotations

from typing import Any

from aiogram import F, Router
from aiogram.filters import CommandStart
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import Message
from aiogram_dialog import Dialog, DialogManager, StartMode, Window
from aiogram_dialog.widgets.input import ManagedTextInput, TextInput
from aiogram_dialog.widgets.kbd import Button, Row, SwitchTo
from aiogram_dialog.widgets.text import Const, Format


class Wizard(StatesGroup):
    welcome = State()
    phone = State()
    code = State()
    confirm = State()


async def on_phone(
    message: Message, _w: ManagedTextInput, manager: DialogManager, text: str
) -> None:
    manager.dialog_data["phone"] = text[-2:]
    await manager.next()


async def on_code(
    message: Message, _w: ManagedTextInput, manager: DialogManager, text: str
) -> None:
    manager.dialog_data["attempts"] = manager.dialog_data.get("attempts", 0) + 1
    await manager.next()


async def on_link(_callback: Any, _button: Button, manager: DialogManager) -> None:
    manager.dialog_data["linked"] = manager.dialog_data.get("linked", 0) + 1
    await manager.switch_to(Wizard.phone)


async def summary(dialog_manager: DialogManager, **_kwargs: Any) -> dict[str, Any]:
    data = dialog_manager.dialog_data
    return {
        "phone": data.get("phone", "??"),
        "attempts": data.get("attempts", 0),
        "linked": data.get("linked", 0),
    }


def build_dialog() -> Dialog:
    return Dialog(
        Window(
            Const("Здравствуйте! Я помогу связать МЭШ со Сферумом."),
            SwitchTo(Const("Перейти к подключению"), id="go", state=Wizard.phone),
            state=Wizard.welcome,
        ),
        Window(
            Format("Ваш телефон? (привязано раз: {linked})"),
            TextInput(id="phone", on_success=on_phone),
            SwitchTo(Const("Назад"), id="back", state=Wizard.welcome),
            state=Wizard.phone,
            getter=summary,
        ),
        Window(
            Format("Код отправлен на +7 *** ***-**-{phone}. Попытка {attempts}"),
            TextInput(id="code", on_success=on_code),
            state=Wizard.code,
            getter=summary,
        ),
        Window(
            Format("Ваш профиль для связки: +7 *** ***-**-{phone}"),
            Row(
                Button(Const("Привязать"), id="link", on_click=on_link),
                SwitchTo(Const("Изменить телефон"), id="edit", state=Wizard.phone),
            ),
            state=Wizard.confirm,
            getter=summary,
        ),
    )


def build_dialog_router() -> Router:
    """/start resets the stack into the wizard; everything else is the dialog's."""
    router = Router()

    @router.message(CommandStart())
    async def start(message: Message, dialog_manager: DialogManager) -> None:
        await dialog_manager.start(Wizard.welcome, mode=StartMode.RESET_STACK)

    return router


def build_echo_router() -> Router:
    router = Router()

    @router.message(F.text)
    async def echo(message: Message) -> None:
        await message.answer(message.text or "")

    return router
