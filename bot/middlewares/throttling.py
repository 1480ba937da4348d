"""Per-teacher flood control that never drops real input silently.

Messages are always handled (a teacher's typed phone or code must never vanish); only a flood
far beyond human speed gets one polite "please slow down" and is then ignored until it calms.
A press of a button whose previous press is still being handled (a double tap while the backend
answers) gets a short toast instead of running the action twice.
"""

from __future__ import annotations

import time
from collections import OrderedDict, deque
from collections.abc import Awaitable, Callable
from typing import Any

from aiogram import BaseMiddleware
from aiogram.types import CallbackQuery, Message, TelegramObject
from aiogram.utils.i18n import gettext as _

MAX_TRACKED_USERS = 10_000


class ThrottlingMiddleware(BaseMiddleware):
    def __init__(
        self,
        *,
        flood_messages: int = 20,
        flood_window: float = 10.0,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.flood_messages = flood_messages
        self.flood_window = flood_window
        self._monotonic = monotonic
        self._messages: OrderedDict[int, deque[float]] = OrderedDict()
        self._warned: set[int] = set()
        self._pressing: set[tuple[int, str]] = set()

    async def __call__(
        self,
        handler: Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]],
        event: TelegramObject,
        data: dict[str, Any],
    ) -> Any:
        if isinstance(event, Message) and event.from_user and event.chat.type == "private":
            if self._is_flood(event.from_user.id):
                if event.from_user.id not in self._warned:
                    self._warned.add(event.from_user.id)
                    await event.answer(
                        _("You are sending messages very fast. Please wait a few seconds.")
                    )
                return None
            self._warned.discard(event.from_user.id)
        elif isinstance(event, CallbackQuery) and event.data is not None:
            key = (event.from_user.id, event.data)
            if key in self._pressing:
                await event.answer(_("One moment…"))
                return None
            self._pressing.add(key)
            try:
                return await handler(event, data)
            finally:
                self._pressing.discard(key)
        return await handler(event, data)

    def _is_flood(self, user_id: int) -> bool:
        now = self._monotonic()
        stamps = self._messages.setdefault(user_id, deque())
        self._messages.move_to_end(user_id)
        while stamps and now - stamps[0] > self.flood_window:
            stamps.popleft()
        stamps.append(now)
        while len(self._messages) > MAX_TRACKED_USERS:
            self._messages.popitem(last=False)
        return len(stamps) > self.flood_messages
