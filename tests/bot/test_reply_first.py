"""A typed answer is answered first: the new window is sent before the old one loses its buttons.

aiogram-dialog's own order (edit the old window's keyboard away, then send the new window) made
the teacher wait one more round trip to Telegram for every answer she typed.
"""

from __future__ import annotations

from aiogram.exceptions import TelegramBadRequest
from aiogram.methods import EditMessageReplyMarkup, SendMessage
from aiogram.types import InlineKeyboardMarkup

from tests.bot.helpers import Demo, open_from_journal
from tests.support.bot_app import BotApp

CASE = "vkid_no_profile"


def window_sent_before_removal(app: BotApp, start: int) -> bool:
    """Whether the new window (a message with inline buttons) went out before the removal."""
    calls = app.telegram.calls[start:]
    window = next(
        i
        for i, call in enumerate(calls)
        if isinstance(call, SendMessage) and isinstance(call.reply_markup, InlineKeyboardMarkup)
    )
    removal = next(i for i, call in enumerate(calls) if isinstance(call, EditMessageReplyMarkup))
    return window < removal


async def test_her_phone_is_answered_before_the_old_window_loses_its_buttons(
    app: BotApp, demo: Demo
) -> None:
    teacher = app.teacher(840)
    await open_from_journal(teacher, demo, CASE, "Нет")
    question = teacher.last
    assert teacher.buttons(question)  # the phone question has buttons to take away
    start = len(app.telegram.calls)

    await teacher.send(demo[CASE].phone)

    assert window_sent_before_removal(app, start)
    (removal,) = app.telegram.calls_of(EditMessageReplyMarkup)[-1:]
    assert removal.message_id == question.message_id
    assert teacher.buttons(teacher.log.messages[question.message_id]) == []
    assert "Создать учебный профиль" in teacher.buttons()


async def test_a_keyboard_that_cannot_be_removed_does_not_fail_her_answer(
    app: BotApp, demo: Demo
) -> None:
    teacher = app.teacher(841)
    await open_from_journal(teacher, demo, CASE, "Нет")
    question = teacher.last
    app.telegram.fail_next(
        "EditMessageReplyMarkup",
        TelegramBadRequest(EditMessageReplyMarkup(chat_id=841), "Bad Request: something new"),
    )

    await teacher.send(demo[CASE].phone)

    assert "Создать учебный профиль" in teacher.buttons()  # her next window, not an apology
    assert teacher.buttons(teacher.log.messages[question.message_id])  # left on the old one
    await teacher.click("Создать учебный профиль")  # and the dialog goes on from the new one
    assert "пароль" in teacher.last_text.lower()
