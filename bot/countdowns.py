"""Countdowns that move: a code window changes when its waiting time is up, without the teacher
doing anything («Звонок поступит в течение 0:56» → «Запросить код ещё раз»).

While a code window with a running countdown is on screen, one task per chat sleeps until the
next tick — every `tick` seconds (15) while the countdown runs, then once at its end — and shows
the same window again in place, through aiogram-dialog's background manager (`fg()`: under the
chat's dialog lock, so it never races the teacher's own updates), and only while that window is
still the one on screen. Once the chat shows another step window (`showing`, called by every step
window's getter), the countdown stops at once instead of entering the chat's dialog at its next
tick only to find the window gone (bench/README.md, issue 13, stop 18: 199 such ticks in 2,600
updates of the open loop).

Telegram's limits: one chat gets at most one edit per `tick` seconds, far under its one message
a second; across the bot, coarse ticks beyond `max_edits_per_second` are skipped (the edit at the
end of a countdown never is), so a thousand teachers waiting for codes cannot crowd out answers.

Restarts: the tasks live in memory. After a restart nothing ticks until the window is rendered
again (any update of that teacher): rendering a code window calls `watch`, which schedules its
task anew, and the window always computes the time left from the bot's clock, so it never shows
a stale countdown.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

from aiogram import Bot
from aiogram_dialog import BgManagerFactory, ShowMode

from services.clock import Clock

logger = logging.getLogger(__name__)

TICK_SECONDS = 15.0
MAX_EDITS_PER_SECOND = 10


Sleep = Callable[[float], Awaitable[Any]]


class CountdownTicker:
    """The running countdowns of code windows, one per chat (the newest one wins)."""

    def __init__(
        self,
        bg_factory: BgManagerFactory,
        clock: Clock,
        *,
        tick: float = TICK_SECONDS,
        max_edits_per_second: int = MAX_EDITS_PER_SECOND,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self._bg = bg_factory
        self._clock = clock
        self._tick = tick
        self.max_edits_per_second = max_edits_per_second
        self._sleep = sleep
        self._tasks: dict[tuple[int, int], tuple[tuple[str, str], asyncio.Task[None]]] = {}
        self._edits_at: tuple[int, int] = (0, 0)  # (second, edits in it)

    def watch(self, bot: Bot, user_id: int, chat_id: int, window: str, ends: datetime) -> None:
        """Keep the window `window` ("Link:code") of this chat moving until `ends`."""
        key = (user_id, chat_id)
        marker = (window, ends.isoformat())
        known = self._tasks.get(key)
        if known is not None and known[0] == marker and not known[1].done():
            return
        if known is not None:
            known[1].cancel()
        task = asyncio.create_task(self._run(bot, user_id, chat_id, window, ends))
        self._tasks[key] = (marker, task)
        task.add_done_callback(lambda done: self._forget(key, done))

    def showing(self, user_id: int, chat_id: int, window: str) -> None:
        """This chat now shows `window`: a countdown of another window there stops."""
        known = self._tasks.get((user_id, chat_id))
        if known is not None and known[0][0] != window:
            known[1].cancel()  # asleep, or in a render that is let finish (`_show_whole`)

    def running(self, user_id: int, chat_id: int) -> asyncio.Task[None] | None:
        known = self._tasks.get((user_id, chat_id))
        return known[1] if known is not None else None

    async def close(self) -> None:
        """Stop every countdown (the bot is stopping)."""
        tasks = [task for _, task in self._tasks.values()]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks.clear()

    def _forget(self, key: tuple[int, int], task: asyncio.Task[None]) -> None:
        known = self._tasks.get(key)
        if known is not None and known[1] is task:
            del self._tasks[key]

    async def _run(self, bot: Bot, user_id: int, chat_id: int, window: str, ends: datetime) -> None:
        while True:
            left = (ends - self._clock.now()).total_seconds()
            final = left <= self._tick
            await self._sleep(max(left, 0.0) if final else self._tick)
            if final and self._clock.now() < ends:
                continue  # woke a little early: the window would still say «0:01»
            if not final and not self._may_edit():
                continue
            try:
                shown = await self._show_whole(bot, user_id, chat_id, window)
            except Exception:  # a countdown must never take the bot down; the next render fixes it
                logger.exception("countdown of %s in chat %s not updated", window, chat_id)
                return
            if not shown or final:
                return

    def _may_edit(self) -> bool:
        second = int(self._clock.now().timestamp())
        at, edits = self._edits_at
        edits = edits if at == second else 0
        if edits >= self.max_edits_per_second:
            return False
        self._edits_at = (second, edits + 1)
        return True

    async def _show_whole(self, bot: Bot, user_id: int, chat_id: int, window: str) -> bool:
        """`_show_again`, run to its end even when the countdown is cancelled meanwhile.

        aiogram-dialog's `fg()` queues a pseudo-update for the chat's dialog lock and waits for
        it to enter; cancelled meanwhile (a new countdown in `watch`, another window in
        `showing`), that wait's future is cancelled and the update, entering later, fails on it
        (`InvalidStateError`): the teacher would read the last-resort «Что-то пошло не так» and
        the admins get an alert.
        """
        render = asyncio.ensure_future(self._show_again(bot, user_id, chat_id, window))
        try:
            return await asyncio.shield(render)
        except asyncio.CancelledError:
            render.add_done_callback(_log_failure)
            raise

    async def _show_again(self, bot: Bot, user_id: int, chat_id: int, window: str) -> bool:
        """Render the chat's window in place if it is still `window`; whether it was."""
        factory = self._bg.bg(bot, user_id=user_id, chat_id=chat_id)
        async with factory.fg() as manager:
            if not manager.has_context() or manager.current_context().state.state != window:
                return False
            await manager.show(ShowMode.EDIT)
        return True


def _log_failure(render: asyncio.Future[bool]) -> None:
    """A render left to finish after its countdown was cancelled raises to nobody: log it."""
    if render.cancelled() or render.exception() is None:
        return
    logger.error("countdown render failed", exc_info=render.exception())
