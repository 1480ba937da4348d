"""Guide mode's watcher: follows a flow's events from the backend and moves her chat along.

One task per flow in this process long-polls `GET /v1/flows/{id}/events` (bounded wait) and
applies what comes to her Guide window through aiogram-dialog's background manager (`fg()`:
under the chat's dialog lock, so it never races her own updates). Between events it keeps two
reminders on the bot's clock: no call-reset within its 0:56 → «get it by SMS»; no move on one
screen for `STUCK_AFTER` → help and a specialist.

One watcher per flow across replicas and restarts: before each round the task takes or renews
the flow's lease in the bot's database (services/storage/guide_watches.py), which also keeps the
feed's cursor; a replica that finds the lease held by a live process leaves the flow to it. A
process that starts picks up the flows whose holder died (`resume`), and every render of a Guide
window asks again (`follow`), as the moving countdowns do (bot/countdowns.py).

The watcher stops when the flow ends (linked, cancelled), when she leaves guide mode («Сделай за
меня», /start), or when the flow is gone for her (another linking replaced it).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol

from aiogram import Bot
from aiogram_dialog import BgManagerFactory, ShowMode

from bot.dialogs.guide import apply_events
from bot.dialogs.guide_screens import FINISHED, STUCK_AFTER
from bot.dialogs.states import Guide, Handoff, Help
from bot.i18n import use_i18n
from services.linking_client import BackendUnavailable, FlowEvent, LinkingClient, LinkingError
from services.storage.guide_watches import GuideWatches

logger = logging.getLogger(__name__)

LONG_POLL = 20  # seconds the backend may hold one poll
RETRY_AFTER_FAILURE = 5.0  # backend away: look again after this many seconds
PAUSE = 5.0  # she is talking to a specialist (or reading help): events wait for her


class Clock(Protocol):
    def now(self) -> datetime: ...


Sleep = Callable[[float], Awaitable[Any]]


@dataclass
class Watch:
    """What this process knows of one followed flow."""

    user_id: int
    chat_id: int
    after: int = 0
    moved_at: datetime | None = None
    call_due: datetime | None = None
    stuck_told: bool = False
    finished: bool = False
    shown: list[str] = field(default_factory=list)


class GuideWatcher:
    """The followed flows of this process, one task each (`autostart=False`: tests pump)."""

    def __init__(
        self,
        bg_factory: BgManagerFactory,
        linking: LinkingClient,
        clock: Clock,
        leases: GuideWatches | None = None,
        *,
        autostart: bool = True,
        long_poll: int = LONG_POLL,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self._bg = bg_factory
        self._linking = linking
        self._clock = clock
        self._leases = leases
        self._autostart = autostart
        self._long_poll = long_poll
        self._sleep = sleep
        self._watches: dict[str, Watch] = {}
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._bots: dict[str, Bot] = {}
        self._progress = asyncio.Condition()

    # ------------------------------------------------------------------ control

    def follow(self, bot: Bot, user_id: int, chat_id: int, flow_id: str, *, after: int = 0) -> None:
        """Follow this flow for her chat from event `after` on (idempotent; restarts a task
        that ended). The lease's stored cursor wins when it is further."""
        watch = self._watches.get(flow_id)
        if watch is None:
            watch = Watch(user_id=user_id, chat_id=chat_id, after=after, moved_at=self._clock.now())
            self._watches[flow_id] = watch
        self._bots[flow_id] = bot
        task = self._tasks.get(flow_id)
        if self._autostart and (task is None or task.done()) and not watch.finished:
            self._tasks[flow_id] = asyncio.create_task(self._run(flow_id))

    def following(self, flow_id: str) -> bool:
        return flow_id in self._watches

    async def stop(self, flow_id: str) -> None:
        """She left guide mode: stop here and give the lease up."""
        self._watches.pop(flow_id, None)
        self._bots.pop(flow_id, None)
        task = self._tasks.pop(flow_id, None)
        if task is not None and task is not asyncio.current_task():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if self._leases is not None:
            try:  # gone, not lapsed: a starting process must not resume what she left
                await self._leases.release(flow_id, finished=True)
            except Exception:  # it lapses by itself
                logger.exception("guide lease not released")

    async def resume(self, bot: Bot) -> int:
        """At start: follow the flows whose watcher died with its process; how many."""
        if self._leases is None:
            return 0
        lapsed = await self._leases.lapsed()
        for flow_id, user_id, chat_id in lapsed:
            self.follow(bot, user_id, chat_id, flow_id)
        return len(lapsed)

    async def close(self) -> None:
        tasks = list(self._tasks.values())
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks.clear()

    async def caught_up(self, flow_id: str, seq: int, within: float = 10.0) -> None:
        """Wait until this process has shown her everything up to event `seq` (tests, tools)."""

        def done() -> bool:
            watch = self._watches.get(flow_id)
            return watch is None or watch.after >= seq

        async with asyncio.timeout(within), self._progress:
            await self._progress.wait_for(done)

    # ------------------------------------------------------------------ rounds

    async def _run(self, flow_id: str) -> None:
        while flow_id in self._watches:
            try:
                going = await self.pump(flow_id, wait=None)
            except asyncio.CancelledError:
                raise
            except BackendUnavailable:
                await self._sleep(RETRY_AFTER_FAILURE)
                continue
            except Exception:  # never take the bot down; look again a little later
                logger.exception("guide watcher round failed")
                await self._sleep(RETRY_AFTER_FAILURE)
                continue
            if going is None:  # another process holds the flow, or she is with a specialist
                await self._sleep(PAUSE)
            elif not going:
                break

    async def pump(self, flow_id: str, wait: int | None = 0) -> bool | None:
        """One round: read new events (holding up to `wait` s; None: until the next reminder
        or `long_poll`), show them and due reminders. True: go on; False: done; None: not now."""
        watch = self._watches.get(flow_id)
        bot = self._bots.get(flow_id)
        if watch is None or bot is None:
            return False
        if self._leases is not None:
            after = await self._leases.claim(
                flow_id, user_id=watch.user_id, chat_id=watch.chat_id, after=watch.after
            )
            if after is None:
                return None
            watch.after = after
        if wait is None:
            wait = self._wait_for_next(watch)
        try:
            page = await self._linking.for_user(watch.user_id).flow_events(
                flow_id, after=watch.after, wait=wait
            )
        except LinkingError as error:
            if error.code in ("not_found", "flow_expired"):
                await self.stop(flow_id)
                return False
            raise
        now = self._clock.now()
        self._note(watch, page.events, now)
        reminders = self._due(watch, page.state, now)
        if page.events or reminders:
            shown = await self._show(bot, flow_id, watch, page.events, reminders)
            if shown is None:
                return None  # events wait (cursor kept) until she is back on the window
            if not shown:
                await self.stop(flow_id)
                await self._advanced(flow_id, watch)
                return False
        watch.after = page.next
        if self._leases is not None:
            await self._leases.advance(flow_id, page.next)
        await self._advanced(flow_id, watch)
        if page.state in FINISHED:
            watch.finished = True
            self._watches.pop(flow_id, None)
            if self._leases is not None:
                await self._leases.release(flow_id, finished=True)
            await self._advanced(flow_id, watch)
            return False
        return True

    async def _advanced(self, flow_id: str, watch: Watch) -> None:
        async with self._progress:
            self._progress.notify_all()

    def _wait_for_next(self, watch: Watch) -> int:
        """Hold the poll no longer than until the next reminder is due."""
        now = self._clock.now()
        dues = [d for d in (watch.call_due, self._stuck_due(watch)) if d is not None]
        seconds = min([self._long_poll, *(int((d - now).total_seconds()) + 1 for d in dues)])
        return max(0, seconds)

    def _stuck_due(self, watch: Watch) -> datetime | None:
        if watch.stuck_told or watch.moved_at is None:
            return None
        return watch.moved_at + timedelta(seconds=STUCK_AFTER)

    @staticmethod
    def _note(watch: Watch, events: tuple[FlowEvent, ...], now: datetime) -> None:
        """Timers from what happened: a move resets «stuck»; a call sent starts its 0:56."""
        for event in events:
            if event.kind in ("step", "recovery", "screen"):
                watch.moved_at, watch.stuck_told = now, False
                if event.kind == "step" and event.state != "code":
                    watch.call_due = None
            if event.kind == "code_sent":
                watch.moved_at, watch.stuck_told = now, False
                watch.call_due = (
                    now + timedelta(seconds=event.resend_after or 0)
                    if event.channel == "call"
                    else None
                )

    def _due(self, watch: Watch, state: str, now: datetime) -> list[str]:
        due: list[str] = []
        if watch.call_due is not None and now >= watch.call_due and state == "code":
            due.append("call_late")
            watch.call_due = None
        stuck = self._stuck_due(watch)
        if stuck is not None and now >= stuck and state not in FINISHED:
            due.append("stuck")
            watch.stuck_told = True
        return due

    async def _show(
        self,
        bot: Bot,
        flow_id: str,
        watch: Watch,
        events: tuple[FlowEvent, ...],
        reminders: list[str],
    ) -> bool | None:
        """Apply to her Guide window and send it anew. False: she is not in guide mode for this
        flow any more; None: she is with the helpdesk or help now (try later)."""
        factory = self._bg.bg(bot, user_id=watch.user_id, chat_id=watch.chat_id)
        async with factory.fg() as manager:
            if not manager.has_context():
                return False
            context = manager.current_context()
            if context.state.group in (Handoff, Help):
                return None
            if context.state != Guide.screen or context.dialog_data.get("flow_id") != flow_id:
                return False
            if not apply_events(context.dialog_data, events, reminders):
                return True  # nothing she would see differently (the same screen again)
            # This task is not the update's: give it her language, as the locale middleware
            # gives the handlers.
            data = manager.middleware_data
            i18n, locales = data.get("i18n"), data.get("locale_middleware")
            if i18n is None or locales is None:
                await manager.show(ShowMode.SEND)
            else:
                with use_i18n(i18n, await locales.get_locale(manager.event, data)):
                    await manager.show(ShowMode.SEND)
        return True
