"""Paced delivery (Outbox) and Bot API retries, with injected time: nothing really sleeps."""

from __future__ import annotations

import asyncio

import pytest
from aiogram import Bot
from aiogram.exceptions import TelegramNetworkError, TelegramRetryAfter, TelegramServerError
from aiogram.methods import EditMessageText, SendMessage

from bot.helpdesk.outbox import DeliveryLimits, Outbox
from bot.middlewares.request_retry import RequestRetryMiddleware
from bot.shared_state.pacing import MemoryPacingBudget
from tests.helpdesk.conftest import ManualTime
from tests.support.fake_telegram import FakeTelegram

GROUP = -1001234


def make_bot(time: ManualTime) -> tuple[Bot, FakeTelegram, list[tuple[float, str]]]:
    """A bot on FakeTelegram that notes (time, text) of every message it really sends."""
    telegram = FakeTelegram()
    bot = Bot("42:TEST", session=telegram)
    delivered: list[tuple[float, str]] = []

    async def note_delivery(make_request, bot, method):  # type: ignore[no-untyped-def]
        result = await make_request(bot, method)
        delivered.append((time(), method.text))
        return result

    telegram.middleware(note_delivery)
    return bot, telegram, delivered


async def test_a_group_gets_20_messages_a_minute_one_a_second_and_none_dropped() -> None:
    time = ManualTime()
    bot, _telegram, delivered = make_bot(time)
    outbox = Outbox(clock=time, sleep=time.sleep)

    await asyncio.gather(
        *(outbox.send(bot, GROUP, SendMessage(chat_id=GROUP, text=f"m{i}")) for i in range(25))
    )

    assert [text for _, text in delivered] == [f"m{i}" for i in range(25)]  # all, in order
    times = [at for at, _ in delivered]
    assert times[:20] == [float(i) for i in range(20)]  # one a second
    assert times[20:] == [60.0, 61.0, 62.0, 63.0, 64.0]  # the 21st waits for the minute


async def test_private_chats_are_paced_per_chat_and_by_the_global_limit() -> None:
    time = ManualTime()
    bot, _telegram, delivered = make_bot(time)
    outbox = Outbox(DeliveryLimits(global_per_second=30), clock=time, sleep=time.sleep)

    for chat in range(1, 36):  # 35 different teachers at once
        await outbox.send(bot, chat, SendMessage(chat_id=chat, text=str(chat)))
    times = [at for at, _ in delivered]
    assert times[:30] == [0.0] * 30 and times[30:] == [1.0] * 5

    await outbox.send(bot, 1, SendMessage(chat_id=1, text="again"))
    await outbox.send(bot, 1, SendMessage(chat_id=1, text="and again"))
    assert [at for at, _ in delivered[-2:]] == [1.0, 2.0]


async def test_the_outbox_keeps_nothing_for_chats_it_is_done_with() -> None:
    """Memory is bounded by what is waiting: 300 teachers, a busy group with lanes and a caller
    who gave up leave no queue behind, and the pacing budget forgets them a minute later."""
    time = ManualTime()
    bot, _telegram, delivered = make_bot(time)
    budget = MemoryPacingBudget(clock=time)
    outbox = Outbox(budget=budget, sleep=time.sleep)

    to_teachers = [
        outbox.send(bot, chat, SendMessage(chat_id=chat, text=f"t{chat}")) for chat in range(1, 301)
    ]
    to_group = [
        asyncio.create_task(
            outbox.send(bot, GROUP, SendMessage(chat_id=GROUP, text=f"g{n}"), lane=n % 3)
        )
        for n in range(6)
    ]
    await asyncio.sleep(0)
    gave_up = asyncio.create_task(
        outbox.send(bot, GROUP, SendMessage(chat_id=GROUP, text="never"), lane=9)
    )
    await asyncio.sleep(0)
    gave_up.cancel()
    await asyncio.gather(*to_teachers, *to_group)

    assert len(delivered) == 306 and "never" not in [text for _, text in delivered]
    assert gave_up.cancelled()
    assert outbox.chats_waiting == 0 and not outbox.pending(GROUP)
    assert budget.tracked_chats == 301
    time.now += 120  # two idle minutes later, one more message
    await outbox.send(bot, 1, SendMessage(chat_id=1, text="again"))
    assert budget.tracked_chats == 1 and outbox.chats_waiting == 0


def flood(retry_after: int) -> TelegramRetryAfter:
    return TelegramRetryAfter(
        method=SendMessage(chat_id=1, text="x"),
        message="Too Many Requests: retry after",
        retry_after=retry_after,
    )


async def test_429_waits_retry_after_then_delivers() -> None:
    time = ManualTime()
    bot, telegram, delivered = make_bot(time)
    bot.session.middleware(RequestRetryMiddleware(sleep=time.sleep))
    telegram.fail_next("SendMessage", flood(7))
    telegram.fail_next("SendMessage", flood(3))

    message = await bot.send_message(1, "привет")

    assert message.text == "привет"
    assert time.sleeps == [7.0, 3.0]
    assert delivered == [(10.0, "привет")]


async def test_429_retries_are_bounded() -> None:
    time = ManualTime()
    bot, telegram, _delivered = make_bot(time)
    bot.session.middleware(RequestRetryMiddleware(max_retries=2, sleep=time.sleep))
    for _ in range(3):
        telegram.fail_next("SendMessage", flood(1))

    with pytest.raises(TelegramRetryAfter):
        await bot.send_message(1, "привет")
    assert time.sleeps == [1.0, 1.0]


async def test_server_and_network_errors_back_off_exponentially_on_idempotent_calls() -> None:
    time = ManualTime()
    bot, telegram, _delivered = make_bot(time)
    bot.session.middleware(RequestRetryMiddleware(backoff=0.5, sleep=time.sleep))
    sent = await bot.send_message(1, "привет")
    method = EditMessageText(chat_id=1, message_id=sent.message_id, text="x")
    telegram.fail_next("EditMessageText", TelegramServerError(method, "Bad Gateway"))
    telegram.fail_next("EditMessageText", TelegramNetworkError(method, "connection reset"))

    edited = await bot.edit_message_text("пока", chat_id=1, message_id=sent.message_id)

    assert time.sleeps == [0.5, 1.0]
    assert edited.text == "пока"  # type: ignore[union-attr]


async def test_a_send_that_may_have_gone_out_is_not_repeated() -> None:
    time = ManualTime()
    bot, telegram, delivered = make_bot(time)
    bot.session.middleware(RequestRetryMiddleware(backoff=0.5, sleep=time.sleep))
    method = SendMessage(chat_id=1, text="x")
    telegram.fail_next("SendMessage", TelegramServerError(method, "Internal Server Error"))

    with pytest.raises(TelegramServerError):
        await bot.send_message(1, "привет")

    assert time.sleeps == [] and delivered == []
    assert len(telegram.calls_of(SendMessage)) == 1
