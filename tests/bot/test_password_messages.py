"""A message with a password leaves the chat at once, whatever it says; when Telegram refuses to
delete it, the teacher is asked to delete it herself and is never told it was deleted."""

from __future__ import annotations

import pytest
from aiogram.exceptions import TelegramBadRequest
from aiogram.methods import DeleteMessage

from tests.bot.helpers import Demo, reach_password
from tests.recovery.steps import NEW_PASSWORD, reach_new_password
from tests.support.bot_app import BotApp
from tests.support.fake_telegram import Person

CASE = "vkid_no_profile"
DELETED = "🔒 Я удалил ваше сообщение с паролем из чата."
DELETE_IT_YOURSELF = "Не получилось удалить из чата ваше сообщение с паролем"


def deleted(app: BotApp) -> set[int]:
    return {call.message_id for call in app.telegram.calls_of(DeleteMessage)}


def refuse_to_delete(app: BotApp) -> None:
    app.telegram.fail_next(
        "DeleteMessage",
        TelegramBadRequest(DeleteMessage(chat_id=0, message_id=0), "message can't be deleted"),
    )


async def test_every_text_on_the_password_step_is_deleted(app: BotApp, demo: Demo) -> None:
    teacher = app.teacher(1300)
    await reach_password(teacher, demo)

    sent = [
        await teacher.send("/Parol#2026"),  # a password may start with "/"
        await teacher.send("   "),
        await teacher.send("не-тот-пароль"),
    ]
    assert {m.message_id for m in sent} <= deleted(app)
    assert all(m.message_id not in teacher.log.messages for m in sent)
    assert "Осталось 3 попытки." in teacher.last_text  # "/Parol#2026" was a real attempt
    assert DELETED in teacher.last_text

    right = await teacher.send(demo[CASE].vk_password or "")
    assert right.message_id in deleted(app)
    assert "Подтвердите вход" in teacher.last_text
    assert DELETED in teacher.last_text  # said on the next window, where she looks


async def test_a_password_telegram_would_not_delete(app: BotApp, demo: Demo) -> None:
    teacher = app.teacher(1301)
    await reach_password(teacher, demo)
    refuse_to_delete(app)

    sent = await teacher.send(demo[CASE].vk_password or "")

    assert sent.message_id in teacher.log.messages  # still in the chat
    said = [m.text or "" for m in teacher.bot_messages()[-3:]]  # (the call-reset picture between)
    warning = next(text for text in said if DELETE_IT_YOURSELF in text)
    assert "удалите его сами" in warning
    assert "Подтвердите вход" in teacher.last_text  # the password itself was used
    assert all(DELETED not in (m.text or "") for m in teacher.bot_messages())


async def walk_to(teacher: Person, demo: Demo, step: str) -> None:
    await reach_new_password(teacher, demo)
    if step == "repeat":
        await teacher.send(NEW_PASSWORD)
        assert "Повторите новый пароль" in teacher.last_text


@pytest.mark.parametrize("step", ["new", "repeat"])
async def test_recovery_password_telegram_would_not_delete(
    app: BotApp, demo: Demo, step: str
) -> None:
    teacher = app.teacher(1302)
    await walk_to(teacher, demo, step)
    refuse_to_delete(app)

    sent = await teacher.send("/слабый")

    assert sent.message_id in teacher.log.messages
    assert DELETE_IT_YOURSELF in (teacher.bot_messages()[-2].text or "")
    assert DELETED not in teacher.last_text
    assert "Придумайте новый пароль" in teacher.last_text  # too simple, or not the same


@pytest.mark.parametrize("step", ["new", "repeat"])
async def test_recovery_password_steps_delete_commands_too(
    app: BotApp, demo: Demo, step: str
) -> None:
    teacher = app.teacher(1303)
    await walk_to(teacher, demo, step)

    sent = await teacher.send("/Parol#2026")

    assert sent.message_id in deleted(app)
    assert sent.message_id not in teacher.log.messages
    assert DELETED in teacher.last_text
