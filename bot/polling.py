"""Long polling that tells Telegram an update is handled only when it is — and its writes are.

aiogram's own loop confirms each update (advances the getUpdates offset) before handling it when
`handle_as_tasks=True`, so an update in flight when the process dies is lost; with
`handle_as_tasks=False` every update of every teacher waits for the one before. This loop:

- takes a batch from getUpdates, handles it chat by chat — in order within a chat, chats in
  parallel — through the ordinary `Dispatcher.feed_update`;
- then makes the batch's writes durable (`commit`, bot/durability.py) and only then confirms the
  batch with the next getUpdates offset. A crash before that makes Telegram deliver the batch
  again; de-duplication (bot/middlewares/dedup.py) skips what was finished, the rest is handled;
- an update whose handling raised even past the error handlers (bot/handlers/errors.py already
  told the teacher; what raised is e.g. saving her dialog while the database is away) is logged
  with its id and not handled again: a repeat could only repeat the failure or its half-effects;
- backs off on network and server errors of getUpdates itself;
- stops gracefully on `stop()` (SIGTERM/SIGINT): the batch in hand is finished, committed and
  confirmed, and nothing more is fetched; if its commit cannot finish (the database is away) the
  batch is left unconfirmed, for the next start to handle (de-duplication skips what was done).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Awaitable, Callable, Hashable, Iterator
from typing import Any

from aiogram import Bot, Dispatcher
from aiogram.exceptions import TelegramConflictError, TelegramUnauthorizedError
from aiogram.methods import GetUpdates, TelegramMethod
from aiogram.types import Update

from services.storage.transient import Backoff

logger = logging.getLogger(__name__)

Sleep = Callable[[float], Awaitable[Any]]


def chat_key(update: Update) -> Hashable:
    """Updates with the same key are handled in order; different keys run in parallel."""
    try:
        event = update.event
    except Exception:  # an update type this aiogram does not know
        return ("update", update.update_id)
    chat = getattr(event, "chat", None)
    if chat is None:
        message = getattr(event, "message", None)  # a callback query's message
        chat = getattr(message, "chat", None)
    if chat is not None:
        return ("chat", chat.id)
    user = getattr(event, "from_user", None) or getattr(event, "user", None)
    if user is not None:
        return ("user", user.id)
    return ("update", update.update_id)


class _Stopping(Exception):
    """stop() was called while waiting."""


class UpdatePoller:
    """getUpdates → handle per chat → commit → confirm, until `stop()`."""

    def __init__(
        self,
        dp: Dispatcher,
        bot: Bot,
        *,
        commit: Callable[[], Awaitable[Any]] | None = None,
        polling_timeout: int = 10,
        limit: int = 100,
        allowed_updates: list[str] | None = None,
        backoff: Backoff | None = None,
        sleep: Sleep = asyncio.sleep,
        stop_grace: float = 10.0,
        **workflow: Any,
    ) -> None:
        """`commit` makes the handled updates' writes durable; `stop_grace` is how long a stop
        waits for a commit that is retrying; `workflow` goes to every handler like
        `start_polling`'s kwargs.
        """
        self.dp = dp
        self.bot = bot
        self._commit = commit
        self.polling_timeout = polling_timeout
        self.limit = limit
        self.allowed_updates = allowed_updates
        self._backoff = backoff or Backoff(initial=1.0, factor=2.0, maximum=30.0)
        self._sleep = sleep
        self.stop_grace = stop_grace
        self._workflow = workflow
        self._stop = asyncio.Event()
        self.offset: int | None = None  # the next getUpdates offset
        self.confirmed = True  # whether Telegram has been told `offset`
        # Metric hooks: batches done, updates handled, updates that raised, fetch failures.
        self.batches = 0
        self.handled = 0
        self.failed = 0
        self.fetch_failures = 0

    def stop(self) -> None:
        """Finish the batch in hand, confirm it, and return from `run()`."""
        if not self._stop.is_set():
            logger.info("polling: stopping after the current batch")
        self._stop.set()

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

    async def run(self) -> None:
        """Poll until `stop()`; dispatcher startup/shutdown hooks run around it."""
        workflow = {
            "dispatcher": self.dp,
            "bots": (self.bot,),
            **self.dp.workflow_data,
            **self._workflow,
        }
        workflow.pop("bot", None)
        await self.dp.emit_startup(bot=self.bot, **workflow)
        try:
            me = await self.bot.me()
            logger.info("polling as @%s (id %d)", me.username, me.id)
        except Exception as error:  # only for the log: getUpdates below has its own backoff
            logger.warning("getMe failed (%s); polling anyway", error)
        try:
            await self._poll()
        finally:
            logger.info("polling stopped")
            await self.dp.emit_shutdown(bot=self.bot, **workflow)

    async def _poll(self) -> None:
        failures = 0
        while not self.stopping:
            try:
                updates = await self._fetch()
            except _Stopping:
                break
            except TelegramUnauthorizedError:
                raise  # a wrong token does not heal by waiting
            except Exception as error:
                failures += 1
                self.fetch_failures += 1
                delay = self._backoff.delay(failures)
                if isinstance(error, TelegramConflictError):
                    logger.error(
                        "getUpdates conflict (another process polls this bot, or a webhook is "
                        "set): %s; retry in %.0fs",
                        error.message,
                        delay,
                    )
                else:
                    logger.warning(
                        "getUpdates failed (%s: %s); retry %d in %.1fs",
                        type(error).__name__,
                        error,
                        failures,
                        delay,
                    )
                with contextlib.suppress(_Stopping):
                    await self._pause(delay)
                continue
            if failures:
                logger.info("getUpdates works again after %d failures", failures)
                failures = 0
            self.confirmed = True
            if updates:
                await self._handle_batch(updates)
        if not self.confirmed and self.offset is not None:
            await self._confirm_on_stop()

    async def _fetch(self) -> list[Update]:
        kwargs: dict[str, Any] = {}
        if self.bot.session.timeout:
            kwargs["request_timeout"] = int(self.bot.session.timeout + self.polling_timeout)
        method = GetUpdates(
            offset=self.offset,
            limit=self.limit,
            timeout=self.polling_timeout,
            allowed_updates=self.allowed_updates,
        )
        return await self._unless_stopped(self.bot(method, **kwargs))

    async def _handle_batch(self, updates: list[Update]) -> None:
        by_chat: dict[Hashable, list[Update]] = {}
        for update in updates:
            by_chat.setdefault(chat_key(update), []).append(update)
        await asyncio.gather(*(self._handle_chat(chat) for chat in by_chat.values()))
        if not await self._commit_batch():
            return  # stopping while the database is away: confirm nothing of this batch
        self.offset = updates[-1].update_id + 1
        self.confirmed = False
        self.batches += 1

    async def _handle_chat(self, updates: list[Update]) -> None:
        """One chat's updates, in order."""
        for update in updates:
            try:
                response = await self.dp.feed_update(self.bot, update, **self._workflow)
                if isinstance(response, TelegramMethod):
                    await self.dp.silent_call_request(self.bot, response)
            except Exception:
                self.failed += 1
                logger.exception("update %d failed past the error handlers", update.update_id)
            else:
                self.handled += 1

    async def _commit_batch(self) -> bool:
        if self._commit is None:
            return True
        commit = asyncio.ensure_future(self._commit())
        stopper = asyncio.ensure_future(self._stop.wait())
        try:
            done, _ = await asyncio.wait({commit, stopper}, return_when=asyncio.FIRST_COMPLETED)
            if commit not in done:  # stopping: give a retrying commit a little longer
                done, _ = await asyncio.wait({commit}, timeout=self.stop_grace)
        finally:
            stopper.cancel()
        if commit in done:
            commit.result()
            return True
        commit.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await commit
        logger.error("polling stopped before the batch's writes were committed; not confirmed")
        return False

    async def _confirm_on_stop(self) -> None:
        """Tell Telegram the handled batch is done (limit=1, no wait: confirms, fetches little)."""
        try:
            await self.bot(GetUpdates(offset=self.offset, limit=1, timeout=0))
            self.confirmed = True
        except Exception as error:  # the batch comes again; de-duplication skips it
            logger.warning("could not confirm the last batch on stop: %s", error)

    async def _pause(self, delay: float) -> None:
        """Sleep `delay`, or raise `_Stopping` as soon as stop() is called."""
        await self._unless_stopped(self._sleep(delay))

    async def _unless_stopped(self, awaitable: Awaitable[Any]) -> Any:
        work = asyncio.ensure_future(awaitable)
        stopper = asyncio.ensure_future(self._stop.wait())
        try:
            done, _ = await asyncio.wait({work, stopper}, return_when=asyncio.FIRST_COMPLETED)
        except BaseException:
            work.cancel()
            raise
        finally:
            stopper.cancel()
        if work in done:
            return work.result()
        work.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await work
        raise _Stopping


@contextlib.contextmanager
def stop_on_signals(stop: Callable[[], None]) -> Iterator[None]:
    """Call `stop` on SIGTERM and SIGINT while inside the block (where the OS supports it)."""
    loop = asyncio.get_running_loop()
    installed = []
    for sig in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop)
            installed.append(sig)
    try:
        yield
    finally:
        for sig in installed:
            loop.remove_signal_handler(sig)
