"""Pictures where a teacher would rather look than read: sent once above their step's window,
uploaded once per bot and then sent by Telegram's file id — also after a restart."""

from __future__ import annotations

import asyncio
import hashlib
import struct
from pathlib import Path

from aiogram.methods import SendPhoto

from bot.dialogs.pictures import CAPTIONS, CONDITIONS
from bot.dialogs.steps import STEPS
from bot.pictures import PICTURES_DIR, PictureSender
from services.storage.db import create_session_factory
from services.storage.telegram_files import TelegramFileIds
from tests.bot.helpers import Demo, reach_code, reach_password
from tests.support.bot_app import BotApp
from tests.support.fake_telegram import Person

CASE = "vkid_no_profile"


def picture_bytes(name: str) -> bytes:
    return (PICTURES_DIR / f"{name}.png").read_bytes()


def uploads_of(app: BotApp, name: str) -> list[str]:
    return [fid for fid in app.telegram.uploads if app.telegram.files[fid] == picture_bytes(name)]


def photos_sent(app: BotApp, chat_id: int) -> list[SendPhoto]:
    return [call for call in app.telegram.calls_of(SendPhoto) if call.chat_id == chat_id]


def above_the_window(teacher: Person) -> tuple[str, str]:
    picture, window = teacher.bot_messages()[-2:]
    assert picture.photo, "the message above the window is not a picture"
    return picture.caption or "", window.text or ""


async def test_the_call_reset_picture_shows_which_four_digits(app: BotApp, demo: Demo) -> None:
    teacher = app.teacher(990)
    await reach_code(teacher, demo, CASE)
    caption, window = above_the_window(teacher)
    assert "последние 4 цифры номера, с которого вам позвонили" in caption
    assert "Подтвердите вход" in window
    print("UPLOADS", app.telegram.uploads, len(app.telegram.calls_of(SendPhoto)))
    assert len(uploads_of(app, "call_reset")) == 1

    await teacher.send("12")  # the window again: no second picture in this dialog
    assert [c.caption for c in photos_sent(app, 990)].count(caption) == 1


async def test_the_forgot_password_picture_is_above_the_password_step(
    app: BotApp, demo: Demo
) -> None:
    teacher = app.teacher(991)
    await reach_password(teacher, demo, CASE)
    caption, window = above_the_window(teacher)
    assert "в окне VK ID нажимают здесь" in caption
    assert "Пароль от VK ID" in window
    assert "Забыли или не установили пароль?" in teacher.buttons()


async def test_the_e_journal_picture_shows_where_the_messenger_icon_is(app: BotApp) -> None:
    teacher = app.teacher(992)
    await teacher.send("/start")
    caption, window = above_the_window(teacher)
    assert "значок мессенджера" in caption and "«Перейти к подключению»" in caption
    assert "откройте меня из электронного журнала" in window
    assert "Открыть электронный журнал" in teacher.buttons()


async def test_each_picture_is_uploaded_once_then_sent_by_file_id_even_after_a_restart(
    app: BotApp, demo: Demo
) -> None:
    first = app.teacher(993)
    await reach_code(first, demo, CASE)
    file_id = uploads_of(app, "call_reset")[0]

    second = app.teacher(994)
    await open_and_reach_code(second, demo)
    await app.restart()  # a new process: its memory is empty, the database remembers
    third = app.teacher(995)
    await open_and_reach_code(third, demo)

    assert uploads_of(app, "call_reset") == [file_id]
    for teacher in (second, third):
        assert [c.photo for c in photos_sent(app, teacher.chat.id)][-1] == file_id
        assert teacher.bot_messages()[-2].photo[-1].file_id == file_id  # type: ignore[index]


async def test_a_file_id_telegram_refuses_is_uploaded_again(app: BotApp, demo: Demo) -> None:
    first = app.teacher(996)
    await reach_code(first, demo, CASE)
    app.telegram.files.clear()  # e.g. the bot's token changed: its old file ids are unknown

    second = app.teacher(997)
    await open_and_reach_code(second, demo)
    caption, window = above_the_window(second)
    assert "звонок-сброс" in caption and "Подтвердите вход" in window
    fresh = app.telegram.uploads[-1]
    assert app.telegram.files[fresh] == picture_bytes("call_reset")

    third = app.teacher(998)
    await open_and_reach_code(third, demo)
    assert [c.photo for c in photos_sent(app, third.chat.id)][-1] == fresh  # the new id is kept


async def open_and_reach_code(teacher: Person, demo: Demo) -> None:
    """Scenario A to the code step for a fresh teacher of the case (one phone per teacher)."""
    account = await demo.linking.dev_create_account(CASE)
    token = (await demo.linking.dev_link_token(account.mesh_account_id)).token
    await teacher.send("/start " + token)
    await teacher.click("Начнём")
    await teacher.click("VPN выключен, продолжить")
    await teacher.click("Нет")
    await teacher.send(account.phone)
    await teacher.click("Создать учебный профиль")
    await teacher.send(account.vk_password or "")
    assert "Подтвердите вход" in teacher.last_text


def _png_size(path: Path) -> tuple[int, int]:
    width, height = struct.unpack(">II", path.read_bytes()[16:24])
    return width, height


def test_every_picture_of_the_step_table_exists_small_with_a_caption_and_its_source() -> None:
    pictures = {info.picture for info in STEPS.values() if info.picture is not None}
    assert {p.name for p in pictures} == {"journal_messenger_icon", "call_reset", "forgot_password"}
    for picture in pictures:
        png = PICTURES_DIR / f"{picture.name}.png"
        assert png.with_suffix(".svg").is_file(), picture.name  # drawn in the project
        assert png.stat().st_size < 150_000, picture.name  # Telegram and the repo stay light
        assert _png_size(png) == (1080, 690), picture.name  # 720×460 at 1.5×
        assert picture.name in CAPTIONS
        assert picture.only_if is None or picture.only_if in CONDITIONS


async def test_teachers_reaching_a_picture_together_upload_it_once(app: BotApp) -> None:
    file_ids = TelegramFileIds(create_session_factory(app.engine))
    pictures = PictureSender(file_ids)
    digest = hashlib.sha256(picture_bytes("call_reset")).hexdigest()
    assert await file_ids.get(app.bot.id, "call_reset", digest) is None  # known: not uploaded
    make_request = app.telegram.make_request

    async def over_the_network(bot, method, timeout=None):  # type: ignore[no-untyped-def]  # noqa: ASYNC109
        if isinstance(method, SendPhoto) and not isinstance(method.photo, str):
            for _ in range(5):  # an upload takes a while: the others get to run meanwhile
                await asyncio.sleep(0)
        return await make_request(bot, method, timeout)

    app.telegram.make_request = over_the_network  # type: ignore[method-assign]
    chats = range(2001, 2009)
    for chat_id in chats:
        app.telegram.chat(chat_id)
    sent = await asyncio.gather(
        *(pictures.send(app.bot, chat_id, "call_reset") for chat_id in chats)
    )

    assert len(uploads_of(app, "call_reset")) == 1
    assert {m.photo[-1].file_id for m in sent} == set(uploads_of(app, "call_reset"))  # type: ignore[index]
