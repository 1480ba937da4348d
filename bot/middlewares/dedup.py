"""Outer update middleware: an update Telegram delivers twice is handled once.

Telegram redelivers updates after a webhook timeout or a polling restart; a repeated
`update_id` must not press a button twice or send a second code. Memory is bounded: only the
last `capacity` ids are remembered (ids grow monotonically, so old ones never come back).
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from typing import Any

from aiogram import BaseMiddleware
from aiogram.types import TelegramObject, Update

logger = logging.getLogger(__name__)


class UpdateDeduplicationMiddleware(BaseMiddleware):
    def __init__(self, capacity: int = 10_000) -> None:
        self.capacity = capacity
        self._seen: OrderedDict[int, None] = OrderedDict()

    async def __call__(
        self,
        handler: Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]],
        event: TelegramObject,
        data: dict[str, Any],
    ) -> Any:
        # aiogram-dialog's background updates are not from Telegram and have no real id.
        if not isinstance(event, Update) or type(event) is not Update:
            return await handler(event, data)
        if event.update_id in self._seen:
            logger.info("update %d delivered again; ignored", event.update_id)
            return None
        self._seen[event.update_id] = None
        while len(self._seen) > self.capacity:
            self._seen.popitem(last=False)
        return await handler(event, data)
