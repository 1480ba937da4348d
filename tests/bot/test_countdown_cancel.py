"""A countdown stopped while its render waits for the chat's dialog lets that render finish
(bot/countdowns.py): aiogram-dialog's `fg()` pseudo-update, once queued, enters and is exited —
cancelled, it would fail on entering (the teacher would read the last-resort error)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

from aiogram import Bot

from bot.countdowns import CountdownTicker
from services.clock import FakeClock
from tests.support.manual_timer import ManualTimer


class QueuedDialog:
    """`bg(...).fg()` as aiogram-dialog runs it (bg_manager.py, update_handler.py): a pseudo-update
    task waits for the chat's lock (`lock`), sets `entered` (failing if the caller stopped waiting
    for it), and holds the lock until the caller exits the context."""

    def __init__(self, window: str) -> None:
        self.window = window
        self.lock = asyncio.Lock()
        self.updates: list[asyncio.Task[None]] = []
        self.queued = asyncio.Event()
        self.shown = 0

    def bg(self, bot: Bot, user_id: int, chat_id: int) -> QueuedDialog:
        return self

    def has_context(self) -> bool:
        return True

    def current_context(self) -> Any:
        return type("Context", (), {"state": type("State", (), {"state": self.window})})()

    async def show(self, _mode: Any) -> None:
        self.shown += 1

    @contextlib.asynccontextmanager
    async def fg(self) -> AsyncIterator[QueuedDialog]:
        loop = asyncio.get_running_loop()
        entered: asyncio.Future[QueuedDialog] = loop.create_future()
        exited: asyncio.Future[None] = loop.create_future()

        async def pseudo_update() -> None:
            async with self.lock:
                entered.set_result(self)
                await exited

        self.updates.append(asyncio.create_task(pseudo_update()))
        self.queued.set()
        manager = await entered
        yield manager
        exited.set_result(None)


async def test_a_countdown_stopped_while_its_render_is_queued_releases_the_chat() -> None:
    clock = FakeClock()
    timer = ManualTimer(clock)
    dialog = QueuedDialog("Link:code")
    ticker = CountdownTicker(dialog, clock, sleep=timer.sleep)  # type: ignore[arg-type]
    bot = Bot("42:TEST")
    ticker.watch(bot, 7, 7, "Link:code", clock.now() + timedelta(seconds=56))
    task = ticker.running(7, 7)
    assert task is not None

    await dialog.lock.acquire()  # the teacher's own update holds her dialog …
    await timer.next_sleep()
    await timer.wake()  # … while the tick's render queues for it
    await dialog.queued.wait()
    ticker.showing(7, 7, "Link:name")  # her update rendered the next window
    with contextlib.suppress(asyncio.CancelledError):
        await task
    dialog.lock.release()

    async with asyncio.timeout(5):  # a failure bound, not a wait: it ends at once when right
        await dialog.updates[0]  # entered and exited without error: the lock is free again
    assert not dialog.lock.locked()
    assert ticker.running(7, 7) is None
    await bot.session.close()


async def test_showing_the_watched_window_keeps_its_countdown() -> None:
    clock = FakeClock()
    timer = ManualTimer(clock)
    dialog = QueuedDialog("Link:code")
    ticker = CountdownTicker(dialog, clock, sleep=timer.sleep)  # type: ignore[arg-type]
    bot = Bot("42:TEST")
    ticker.watch(bot, 7, 7, "Link:code", clock.now() + timedelta(seconds=56))
    await timer.next_sleep()

    ticker.showing(7, 7, "Link:code")  # the window re-rendered (a wrong code, a tick)

    task = ticker.running(7, 7)
    assert task is not None and not task.done()
    await timer.wake()
    await timer.next_sleep()  # ticked, asleep again
    assert dialog.shown == 1
    await ticker.close()
    await bot.session.close()
