"""Telegram answering 429 or 5xx: sent later, in order, once — never twice.

FakeTelegram (tests/support) refuses chosen calls the way Telegram does; the retry middleware's
sleep is the runtime's Telegram time, manual here, so waiting `retry_after` costs nothing.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
from aiogram.exceptions import TelegramNetworkError, TelegramRetryAfter, TelegramServerError
from aiogram.methods import AnswerCallbackQuery, EditMessageText, SendMessage

from services.clock import FakeClock
from services.linking.in_process import RunningBackend
from tests.bot.helpers import Demo, open_from_journal
from tests.helpdesk.conftest import ManualTime
from tests.support.bot_app import BotApp, make_bot_app

CASE = "vkid_no_profile"


def flood(seconds: int, method=None) -> TelegramRetryAfter:  # type: ignore[no-untyped-def]
    return TelegramRetryAfter(
        method=method or SendMessage(chat_id=1, text="x"),
        message="Too Many Requests: retry after",
        retry_after=seconds,
    )


@pytest.fixture
def time() -> ManualTime:
    return ManualTime()


@pytest.fixture
async def app(
    tmp_path: Path, backend: RunningBackend, clock: FakeClock, time: ManualTime
) -> AsyncIterator[BotApp]:
    """The runtime's own retry middleware, waiting on manual time."""
    async with make_bot_app(tmp_path, backend.url, clock=clock, telegram_time=time) as bot_app:
        yield bot_app


async def test_flood_control_delays_the_answers_which_arrive_in_order_once(
    app: BotApp, demo: Demo, time: ManualTime
) -> None:
    teacher = app.teacher(900)
    await open_from_journal(teacher, demo, CASE, "Нет")
    before = len(app.telegram.calls_of(SendMessage))
    app.telegram.fail_next("SendMessage", flood(3))
    app.telegram.fail_next("SendMessage", flood(5))

    await teacher.send(demo[CASE].phone)

    assert time.sleeps == [3.0, 5.0]  # exactly what Telegram asked for
    texts = [m.text or "" for m in teacher.bot_messages()[-2:]]
    assert "получен" in texts[0] and "Создать учебный профиль" in teacher.buttons()  # in order
    assert sum("получен" in (m.text or "") for m in teacher.bot_messages()) == 1  # once
    assert len(app.telegram.calls_of(SendMessage)) - before == 4  # 2 refused + 2 delivered


async def test_a_send_that_may_have_gone_out_is_not_repeated_the_teacher_gets_a_retry(
    app: BotApp, demo: Demo, time: ManualTime
) -> None:
    teacher = app.teacher(901)
    await open_from_journal(teacher, demo, CASE, "Нет")
    before = len(app.telegram.calls_of(SendMessage))
    app.telegram.fail_next(
        "SendMessage", TelegramServerError(SendMessage(chat_id=1, text="x"), "Internal Error")
    )

    await teacher.send("не номер")  # the hint window is a new message: a send

    sends = app.telegram.calls_of(SendMessage)[before:]
    assert len(sends) == 2  # the refused one, not repeated, then the apology
    assert time.sleeps == []
    assert teacher.last_text == "Что-то пошло не так — попробуйте ещё раз."
    await teacher.click("Попробовать ещё раз")
    assert "Номер телефона" in teacher.last_text  # her step comes back once


async def test_an_edit_is_idempotent_so_a_5xx_is_retried_and_shown_once(
    app: BotApp, demo: Demo, time: ManualTime
) -> None:
    teacher = app.teacher(902)
    await teacher.send("/start " + await demo.token(CASE))
    app.telegram.fail_next(
        "EditMessageText", TelegramServerError(EditMessageText(text="x"), "Bad Gateway")
    )

    await teacher.click("Начнём")  # the greeting is edited into the pre-checks

    assert time.sleeps == [0.5]
    assert "VPN" in teacher.last_text
    assert len(teacher.bot_messages()) == 1


async def test_answer_callback_query_is_never_retried(app: BotApp, time: ManualTime) -> None:
    method = AnswerCallbackQuery(callback_query_id="q1")
    app.telegram.fail_next("AnswerCallbackQuery", flood(1, method))

    with pytest.raises(TelegramRetryAfter):
        await app.bot.answer_callback_query("q1")

    assert time.sleeps == [] and len(app.telegram.calls_of(AnswerCallbackQuery)) == 1


async def test_a_connection_that_never_opened_is_retried_even_for_a_send(
    app: BotApp, time: ManualTime
) -> None:
    refused = TelegramNetworkError(SendMessage(chat_id=1, text="x"), "ClientConnectorError")
    refused.__cause__ = aiohttp.ClientConnectorError.__new__(aiohttp.ClientConnectorError)
    timed_out = TelegramNetworkError(SendMessage(chat_id=1, text="x"), "Request timeout error")
    app.telegram.fail_next("SendMessage", refused)

    message = await app.bot.send_message(1, "дошло")
    assert message.text == "дошло" and time.sleeps == [0.5]

    app.telegram.fail_next("SendMessage", timed_out)  # it may have gone out: not repeated
    with pytest.raises(TelegramNetworkError):
        await app.bot.send_message(1, "может быть, дошло")
    assert time.sleeps == [0.5]
