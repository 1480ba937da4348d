"""The harness itself: a real aiogram-dialog dialog driven through FakeTelegram."""

from aiogram import Bot, Dispatcher, F
from aiogram.filters import CommandStart
from aiogram.fsm.state import State, StatesGroup
from aiogram.fsm.storage.base import DefaultKeyBuilder
from aiogram.fsm.storage.memory import MemoryStorage
from aiogram.methods import EditMessageText
from aiogram.types import Message
from aiogram_dialog import Dialog, DialogManager, StartMode, Window, setup_dialogs
from aiogram_dialog.widgets.input import MessageInput
from aiogram_dialog.widgets.kbd import Button
from aiogram_dialog.widgets.text import Const, Format

from tests.support.fake_telegram import FakeTelegram, Person


class Demo(StatesGroup):
    first = State()
    second = State()


async def _next(callback, button, manager: DialogManager) -> None:
    await manager.next()


async def _getter(dialog_manager: DialogManager, **_) -> dict:
    return {"dialog_data": dialog_manager.dialog_data}


async def _echo(message: Message, widget, manager: DialogManager) -> None:
    manager.dialog_data["said"] = message.text


def build() -> tuple[Dispatcher, Bot, FakeTelegram]:
    telegram = FakeTelegram()
    bot = Bot("42:TEST", session=telegram)
    dp = Dispatcher(storage=MemoryStorage(), key_builder=DefaultKeyBuilder(with_destiny=True))
    dialog = Dialog(
        Window(
            Const("Первый экран"),
            Button(Const("Дальше"), id="next", on_click=_next),
            state=Demo.first,
        ),
        Window(
            Format("Вы сказали: {dialog_data[said]}", when=F["dialog_data"]["said"]),
            Const("Второй экран"),
            MessageInput(_echo),
            state=Demo.second,
            getter=_getter,
        ),
    )

    async def start(message: Message, dialog_manager: DialogManager) -> None:
        await dialog_manager.start(Demo.first, mode=StartMode.RESET_STACK)

    dp.message.register(start, CommandStart())
    dp.include_router(dialog)
    setup_dialogs(dp)
    return dp, bot, telegram


async def test_person_walks_a_dialog_and_sees_edits() -> None:
    dp, bot, telegram = build()
    teacher = Person(dp, bot, telegram, user_id=100)

    await teacher.send("/start")
    assert teacher.last_text == "Первый экран"
    assert teacher.buttons() == ["Дальше"]

    await teacher.click("Дальше")
    assert teacher.last_text == "Второй экран"
    assert telegram.calls_of(EditMessageText), "a button press edits the window in place"

    await teacher.send("привет")
    assert "Вы сказали: привет" in teacher.last_text


async def test_unknown_button_is_reported_clearly() -> None:
    dp, bot, telegram = build()
    teacher = Person(dp, bot, telegram, user_id=101)
    await teacher.send("/start")
    try:
        await teacher.click("Нет такой")
    except AssertionError as error:
        assert "Дальше" in str(error)
    else:
        raise AssertionError("clicking a missing button must fail the test")
