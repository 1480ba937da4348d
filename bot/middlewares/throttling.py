"""Per-teacher flood control that never drops real input silently.

Messages are always handled (a teacher's typed phone or code must never vanish); only a flood
far beyond human speed gets one polite "please slow down" and is then ignored until it calms.
A press of a button whose previous press is still being handled (a double tap while the backend
answers) gets a short toast instead of running the action twice — unless it is the very same
update delivered again (a replica died handling it), which must go on. What it remembers lives in a
`ThrottleStore`: this process's memory, or Redis shared by replicas.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Any

from aiogram import BaseMiddleware
from aiogram.types import CallbackQuery, Message, TelegramObject
from aiogram.utils.i18n import gettext as _

from bot.shared_state.throttle_store import MemoryThrottleStore, ThrottleStore


class ThrottlingMiddleware(BaseMiddleware):
    def __init__(
        self,
        *,
        flood_messages: int = 20,
        flood_window: float = 10.0,
        monotonic: Callable[[], float] = time.monotonic,
        store: ThrottleStore | None = None,
    ) -> None:
        self.flood_messages = flood_messages
        self.flood_window = flood_window
        self.store: ThrottleStore = store or MemoryThrottleStore(monotonic)

    async def __call__(
        self,
        handler: Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]],
        event: TelegramObject,
        data: dict[str, Any],
    ) -> Any:
        if isinstance(event, Message) and event.from_user and event.chat.type == "private":
            user_id = event.from_user.id
            count = await self.store.count_message(user_id, self.flood_window)
            if count > self.flood_messages:
                if await self.store.first_warning(user_id, self.flood_window):
                    await event.answer(
                        _("You are sending messages very fast. Please wait a few seconds.")
                    )
                return None
            await self.store.calm(user_id)
        elif isinstance(event, CallbackQuery) and event.data is not None:
            user_id, data_key = event.from_user.id, event.data
            update = data.get("event_update")
            update_id = update.update_id if update is not None else id(event)
            if not await self.store.start_press(user_id, data_key, update_id):
                await event.answer(_("One moment…"))
                return None
            try:
                return await handler(event, data)
            finally:
                await self.store.end_press(user_id, data_key)
        return await handler(event, data)
