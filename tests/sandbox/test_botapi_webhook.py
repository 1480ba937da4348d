"""The emulator delivers to webhooks like Telegram: secret header, retries, order per chat, and a
load balancer's round robin over several replicas."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
from aiogram import Bot
from aiogram.exceptions import TelegramBadRequest, TelegramConflictError
from aiohttp import web

from services.sandbox.botapi import TelegramWorld
from services.sandbox.botapi.http import DELIVERY_KEY
from tests.sandbox.conftest import OTHER_TEACHER_ID, TEACHER_ID, Emulator, next_event, serve

SECRET = "s3cret_token-for-the-webhook"
Answer = Callable[[dict[str, Any]], Awaitable[web.StreamResponse]]


class Replica:
    """A webhook endpoint that records what it got and answers as the test says."""

    def __init__(self) -> None:
        self.received: list[dict[str, Any]] = []
        self.secrets: list[str | None] = []
        self.answer: Answer = self.ok

    @staticmethod
    async def ok(update: dict[str, Any]) -> web.StreamResponse:
        return web.json_response({})

    async def handle(self, request: web.Request) -> web.StreamResponse:
        update = await request.json()
        self.received.append(update)
        self.secrets.append(request.headers.get("X-Telegram-Bot-Api-Secret-Token"))
        return await self.answer(update)

    def texts(self) -> list[str]:
        return [u["message"]["text"] for u in self.received if "message" in u]


@pytest.fixture
async def replicas() -> AsyncIterator[tuple[list[Replica], list[str]]]:
    found, urls, runners = [], [], []
    for _ in range(2):
        replica = Replica()
        app = web.Application()
        app.router.add_post("/tg", replica.handle)
        runner, url = await serve(app)
        found.append(replica)
        urls.append(f"{url}/tg")
        runners.append(runner)
    yield found, urls
    for runner in runners:
        await runner.cleanup()


def delivered(world: TelegramWorld) -> Callable[[dict[str, Any]], bool]:
    return lambda event: event["type"] == "webhook" and 200 <= event["status"] < 300


async def test_updates_are_posted_with_the_secret_and_confirmed_by_a_2xx(
    world: TelegramWorld, emulator: Emulator, bot: Bot, replicas
) -> None:
    (replica, _), (url, _) = replicas
    await bot.set_webhook(url, secret_token=SECRET, allowed_updates=["message"])
    with world.events.subscribe() as events:
        world.user_sends_text(TEACHER_ID, "Здравствуйте")
        await next_event(events, delivered(world))

    assert replica.texts() == ["Здравствуйте"] and replica.secrets == [SECRET]
    info = await bot.get_webhook_info()
    assert (info.url, info.pending_update_count, info.allowed_updates) == (url, 0, ["message"])
    with pytest.raises(TelegramConflictError):
        await bot.get_updates()  # no polling while a webhook is set


async def test_a_failed_delivery_is_retried_until_the_webhook_says_ok(
    world: TelegramWorld, emulator: Emulator, bot: Bot, replicas
) -> None:
    (replica, _), (url, _) = replicas
    failures = iter([web.Response(status=500), web.Response(status=502)])

    async def fail_twice(update: dict[str, Any]) -> web.StreamResponse:
        return next(failures, None) or web.json_response({})

    replica.answer = fail_twice
    await bot.set_webhook(url, secret_token=SECRET)
    with world.events.subscribe() as events:
        world.user_sends_text(TEACHER_ID, "Алло")
        await next_event(events, delivered(world))

    assert replica.texts() == ["Алло"] * 3  # the same update, three times
    assert [a.status for a in world.webhook_attempts] == [500, 502, 200]
    info = await bot.get_webhook_info()
    assert info.pending_update_count == 0 and info.last_error_message == "HTTP 502"


async def test_a_webhook_that_does_not_answer_in_time_gets_the_update_again(
    world: TelegramWorld, emulator: Emulator, bot: Bot, replicas
) -> None:
    (replica, _), (url, _) = replicas
    emulator.app[DELIVERY_KEY].timeout = 0.2
    hang_once = asyncio.Event()

    async def hang_first(update: dict[str, Any]) -> web.StreamResponse:
        if not hang_once.is_set():
            hang_once.set()
            await asyncio.Event().wait()  # never answers; the emulator gives up
        return web.json_response({})

    replica.answer = hang_first
    await bot.set_webhook(url, secret_token=SECRET)
    with world.events.subscribe() as events:
        world.user_sends_text(TEACHER_ID, "Есть кто?")
        await next_event(events, delivered(world))

    assert [a.status for a in world.webhook_attempts] == [0, 200]
    assert world.webhook_attempts[0].error.startswith("Read timeout")


async def test_one_chat_waits_for_its_previous_update_while_other_chats_go_on(
    world: TelegramWorld, emulator: Emulator, bot: Bot, replicas
) -> None:
    (replica, _), (url, _) = replicas
    first_arrived, release_first = asyncio.Event(), asyncio.Event()

    async def hold_the_first(update: dict[str, Any]) -> web.StreamResponse:
        if update["message"]["text"] == "один":
            first_arrived.set()
            await release_first.wait()
        return web.json_response({})

    replica.answer = hold_the_first
    await bot.set_webhook(url, secret_token=SECRET)
    with world.events.subscribe() as events:
        world.user_sends_text(TEACHER_ID, "один")
        await first_arrived.wait()
        world.user_sends_text(TEACHER_ID, "два")
        world.user_sends_text(OTHER_TEACHER_ID, "другой чат")
        await next_event(events, delivered(world))  # the other chat's, while "один" is held

        assert replica.texts() == ["один", "другой чат"]
        release_first.set()
        await next_event(events, delivered(world))
        await next_event(events, delivered(world))

    assert replica.texts() == ["один", "другой чат", "два"]


async def test_a_load_balancer_alternates_a_chats_updates_and_fails_over(
    world: TelegramWorld, emulator: Emulator, bot: Bot, replicas
) -> None:
    (first, second), (url_a, url_b) = replicas
    world.webhook_targets = [url_a, url_b]

    async def down(update: dict[str, Any]) -> web.StreamResponse:
        return web.Response(status=503)

    await bot.set_webhook("https://bot.example.org/tg", secret_token=SECRET)
    with world.events.subscribe() as events:
        for text in ("1", "2"):
            world.user_sends_text(TEACHER_ID, text)
            await next_event(events, delivered(world))
        first.answer = down  # replica A fails "3": the retry goes to B
        world.user_sends_text(TEACHER_ID, "3")
        await next_event(events, delivered(world))

    assert (first.texts(), second.texts()) == (["1", "3"], ["2", "3"])
    assert [(a.target, a.status) for a in world.webhook_attempts[-2:]] == [
        (url_a, 503),
        (url_b, 200),
    ]


async def test_a_method_in_the_webhook_answer_is_executed(
    world: TelegramWorld, emulator: Emulator, bot: Bot, replicas
) -> None:
    (replica, _), (url, _) = replicas

    async def reply(update: dict[str, Any]) -> web.StreamResponse:
        chat_id = update["message"]["chat"]["id"]
        return web.json_response({"method": "sendMessage", "chat_id": chat_id, "text": "Эхо"})

    replica.answer = reply
    await bot.set_webhook(url, secret_token=SECRET)
    with world.events.subscribe() as events:
        world.user_sends_text(TEACHER_ID, "Голос")
        await next_event(
            events, lambda e: e["type"] == "message" and e["message"].get("text") == "Эхо"
        )


async def test_a_secret_token_telegram_would_refuse_is_refused(emulator: Emulator, bot: Bot):
    with pytest.raises(TelegramBadRequest, match="unallowed characters"):
        await bot.set_webhook("https://bot.example.org/tg", secret_token="no spaces allowed")


async def test_after_delete_webhook_updates_wait_for_get_updates(
    world: TelegramWorld, emulator: Emulator, bot: Bot, replicas
) -> None:
    (replica, _), (url, _) = replicas
    await bot.set_webhook(url, secret_token=SECRET)
    await bot.delete_webhook()
    world.user_sends_text(TEACHER_ID, "Потом")

    updates = await bot.get_updates(timeout=0)
    assert [u.message.text for u in updates] == ["Потом"]
    assert replica.received == []
