"""The bot's update queue with getUpdates semantics: offset confirmation and long polling."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from typing import Any

from services.sandbox.botapi.errors import BotApiError

# Telegram's default when allowed_updates is an empty list: everything but these.
_OPT_IN_ONLY = frozenset({"chat_member", "message_reaction", "message_reaction_count"})


class UpdateQueue:
    """Pending updates for one bot.

    An update stays until a getUpdates call confirms it with a higher offset. A waiting call
    sleeps on an asyncio.Event that every push replaces, so long polling costs nothing while idle.
    A newer getUpdates call terminates the one still waiting with 409, as Telegram does.
    """

    def __init__(self, monotonic: Callable[[], float] = time.monotonic):
        self._pending: list[dict[str, Any]] = []
        self._next_update_id = 1
        self._allowed: frozenset[str] | None = None
        self._wakeup = asyncio.Event()
        self._generation = 0
        self._monotonic = monotonic
        self._poller_waiting = asyncio.Event()
        self._closed = False

    @property
    def last_update_id(self) -> int:
        """The id of the newest update ever queued (0 before the first)."""
        return self._next_update_id - 1

    @property
    def pending_count(self) -> int:
        return len(self._pending)

    def _is_allowed(self, kind: str) -> bool:
        if self._allowed is None:
            return kind not in _OPT_IN_ONLY
        return kind in self._allowed

    def push(self, kind: str, payload: dict[str, Any]) -> dict[str, Any] | None:
        """Queue an update of `kind` (message, callback_query…) unless allowed_updates bars it."""
        if not self._is_allowed(kind):
            return None
        update = {"update_id": self._next_update_id, kind: payload}
        self._next_update_id += 1
        self._pending.append(update)
        self._wake()
        return update

    async def poller_waiting(self) -> None:
        """Return once a getUpdates call is waiting for updates (the bot is polling)."""
        await self._poller_waiting.wait()

    def close(self) -> None:
        """Server shutdown: release waiting polls at once (they answer with no updates)."""
        self._closed = True
        self._wake()

    def drop_pending(self) -> None:
        self._pending.clear()

    # --- for webhook delivery, which confirms each update on its own -------------------------

    def pending(self) -> list[dict[str, Any]]:
        """The updates not yet confirmed, oldest first."""
        return list(self._pending)

    def confirm(self, update_id: int) -> None:
        """Drop one delivered update (a webhook's 2xx answer)."""
        self._pending = [u for u in self._pending if u["update_id"] != update_id]
        self._wake()

    def notify(self) -> None:
        """Wake whoever waits in `changed()` (a delivery finished, the webhook changed)."""
        self._wake()

    async def changed(self) -> None:
        """Return after the next push, confirmation or `notify()`."""
        await self._wakeup.wait()

    def set_allowed(self, allowed: list[str] | None) -> None:
        """None keeps the previous setting; an empty list restores Telegram's default."""
        if allowed is None:
            return
        self._allowed = frozenset(allowed) if allowed else None

    def _wake(self) -> None:
        self._wakeup.set()
        self._wakeup = asyncio.Event()

    def _confirm(self, offset: int | None) -> None:
        if offset is None:
            return
        if offset < 0:
            self._pending = self._pending[offset:]
        else:
            self._pending = [u for u in self._pending if u["update_id"] >= offset]

    async def get_updates(
        self, *, offset: int | None, limit: int | None, wait: float | None
    ) -> list[dict[str, Any]]:
        """Confirm up to `offset`, then return pending updates, waiting up to `wait` seconds."""
        self._generation += 1
        generation = self._generation
        self._wake()  # an older call still waiting learns it was superseded
        self._confirm(offset)
        limit = 100 if not limit or limit > 100 else max(limit, 1)
        deadline = self._monotonic() + max(wait or 0, 0)
        while True:
            if generation != self._generation:
                raise BotApiError(
                    409,
                    "Conflict: terminated by other getUpdates request; "
                    "make sure that only one bot instance is running",
                )
            if self._pending:
                return self._pending[:limit]
            remaining = deadline - self._monotonic()
            if remaining <= 0 or self._closed:
                return []
            wakeup = self._wakeup
            self._poller_waiting.set()
            try:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(wakeup.wait(), remaining)
            finally:
                self._poller_waiting.clear()
