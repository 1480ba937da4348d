"""The polling loop against the sandbox's Bot API emulator over HTTP (getUpdates for real).

Every wait is on an event the code under test sets (a handler entered, a commit started, the bot
polling again); the emulator's queue shows what Telegram still holds unconfirmed.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
from aiogram import Bot, Dispatcher, F, Router
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.types import Message

from bot.polling import UpdatePoller
from services.sandbox.botapi import TelegramWorld, create_botapi_app
from services.sandbox.botapi.faults import Fault
from services.storage.transient import Backoff
from tests.sandbox.conftest import TOKEN, serve

TEACHER_A, TEACHER_B = 1001, 1002


@pytest.fixture
def world() -> TelegramWorld:
    world = TelegramWorld(TOKEN)
    world.add_user(TEACHER_A, "Мария", "Иванова")
    world.add_user(TEACHER_B, "Ольга", "Смирнова")
    return world


class Gates:
    """Handlers that note what they handled and can be held at a word until released."""

    def __init__(self) -> None:
        self.handled: list[tuple[int, str]] = []
        self.entered: dict[str, asyncio.Event] = {}
        self.release: dict[str, asyncio.Event] = {}
        self.done: dict[str, asyncio.Event] = {}

    def hold(self, text: str) -> None:
        self.entered[text] = asyncio.Event()
        self.release[text] = asyncio.Event()

    def on_done(self, text: str) -> asyncio.Event:
        return self.done.setdefault(text, asyncio.Event())

    def router(self) -> Router:
        router = Router()

        @router.message(F.text == "boom")
        async def boom(message: Message) -> None:
            raise RuntimeError("a bug past every error handler")

        @router.message(F.text)
        async def echo(message: Message) -> None:
            text = message.text or ""
            if text in self.release:
                self.entered[text].set()
                await self.release[text].wait()
            await message.answer(f"ok: {text}")
            self.handled.append((message.chat.id, text))
            self.on_done(text).set()

        return router


@contextlib.asynccontextmanager
async def polling(
    world: TelegramWorld, gates: Gates, *, wait_ready: bool = True, **options: Any
) -> AsyncIterator[tuple[UpdatePoller, asyncio.Task[None]]]:
    runner, url = await serve(create_botapi_app(world))
    session = AiohttpSession(api=TelegramAPIServer.from_base(url))
    bot = Bot(TOKEN, session=session)
    dp = Dispatcher()
    dp.include_router(gates.router())
    poller = UpdatePoller(dp, bot, **options)
    task = asyncio.create_task(poller.run())
    try:
        if wait_ready:
            await asyncio.wait_for(world.updates.poller_waiting(), 5)
        yield poller, task
    finally:
        poller.stop()
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.wait_for(task, 5)
        await session.close()
        await runner.cleanup()


def blocking_commit() -> tuple[Callable[[], Awaitable[None]], asyncio.Event, asyncio.Event]:
    started, release = asyncio.Event(), asyncio.Event()

    async def commit() -> None:
        started.set()
        await release.wait()

    return commit, started, release


async def test_an_update_is_confirmed_only_after_it_is_handled_and_committed(
    world: TelegramWorld,
) -> None:
    gates = Gates()
    gates.hold("код 1234")
    commit, commit_started, commit_release = blocking_commit()
    async with polling(world, gates, commit=commit) as (poller, _):
        world.user_sends_text(TEACHER_A, "код 1234")
        await gates.entered["код 1234"].wait()
        assert world.updates.pending_count == 1  # in flight: Telegram still holds it

        gates.release["код 1234"].set()
        await commit_started.wait()
        assert gates.handled == [(TEACHER_A, "код 1234")]
        assert world.updates.pending_count == 1  # handled, not yet committed: still held

        commit_release.set()
        await world.updates.poller_waiting()  # the next getUpdates carries the offset
        assert world.updates.pending_count == 0
        assert poller.handled == 1 and poller.batches == 1


async def test_one_chat_in_order_while_other_chats_go_on(world: TelegramWorld) -> None:
    gates = Gates()
    gates.hold("медленно")
    async with polling(world, gates):
        world.user_sends_text(TEACHER_A, "медленно")
        world.user_sends_text(TEACHER_A, "второе")
        world.user_sends_text(TEACHER_B, "другой учитель")  # one batch of three

        await gates.entered["медленно"].wait()
        await gates.on_done("другой учитель").wait()  # not held up by teacher A
        assert gates.handled == [(TEACHER_B, "другой учитель")]  # A's second waits its turn

        gates.release["медленно"].set()
        await gates.on_done("второе").wait()
        assert gates.handled == [
            (TEACHER_B, "другой учитель"),
            (TEACHER_A, "медленно"),
            (TEACHER_A, "второе"),
        ]


async def test_stop_finishes_the_batch_confirms_it_and_fetches_nothing_more(
    world: TelegramWorld,
) -> None:
    gates = Gates()
    gates.hold("в работе")
    async with polling(world, gates) as (poller, task):
        world.user_sends_text(TEACHER_A, "в работе")
        await gates.entered["в работе"].wait()
        poller.stop()  # SIGTERM while an update is in flight
        world.user_sends_text(TEACHER_B, "после остановки")
        gates.release["в работе"].set()
        await asyncio.wait_for(task, 5)

        assert gates.handled == [(TEACHER_A, "в работе")]  # finished, not cut off
        assert world.updates.pending_count == 1  # only the one never fetched remains
        assert poller.confirmed


async def test_stop_while_the_database_is_away_leaves_the_batch_unconfirmed(
    world: TelegramWorld,
) -> None:
    gates = Gates()
    commit, commit_started, _never = blocking_commit()
    async with polling(world, gates, commit=commit, stop_grace=0.0) as (poller, task):
        world.user_sends_text(TEACHER_A, "привет")
        await commit_started.wait()
        poller.stop()
        await asyncio.wait_for(task, 5)

        assert gates.handled == [(TEACHER_A, "привет")]
        assert world.updates.pending_count == 1  # delivered again after the restart


async def test_get_updates_failures_back_off_and_polling_resumes(world: TelegramWorld) -> None:
    gates = Gates()
    pauses: list[float] = []

    async def note(seconds: float) -> None:
        pauses.append(seconds)
        await asyncio.sleep(0)

    world.faults.add(Fault("server_error", method="getupdates", times=2, status=502))
    world.faults.add(Fault("bad_gateway", method="getupdates", times=2))  # HTML 502 pages
    world.user_sends_text(TEACHER_A, "дошло?")
    async with polling(
        world, gates, wait_ready=False, sleep=note, backoff=Backoff(initial=1.0, maximum=4.0)
    ) as (poller, _):
        await gates.on_done("дошло?").wait()

    assert pauses == [1.0, 2.0, 4.0, 4.0]
    assert poller.fetch_failures == 4
    assert gates.handled == [(TEACHER_A, "дошло?")]


async def test_an_update_failing_past_every_handler_is_logged_and_not_redelivered_forever(
    world: TelegramWorld, caplog: pytest.LogCaptureFixture
) -> None:
    gates = Gates()
    async with polling(world, gates) as (poller, _):
        world.user_sends_text(TEACHER_A, "boom")
        world.user_sends_text(TEACHER_A, "после")
        await gates.on_done("после").wait()
        await world.updates.poller_waiting()

        assert poller.failed == 1 and poller.handled == 1
        assert world.updates.pending_count == 0
    assert any("failed past the error handlers" in r.getMessage() for r in caplog.records)
