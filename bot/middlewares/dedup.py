"""Outer update middleware: an update Telegram delivers twice has the effect of once.

Telegram delivers an update again after a webhook timeout or when polling resumes without having
confirmed it (a crash, a restart). Each update is claimed in the `UpdateLedger` before it is
handled and marked done only AFTER its handling returned — registered outside the storage scope,
so by then its dialog state is flushed. A delivery that finds the update done is skipped; one
that finds it being handled waits for the outcome; when handling raised, the claim is released
so that a later delivery handles it again (a crash mid-handling never makes an update "seen"
without its effect). With several replicas the ledger is shared through Redis.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from aiogram import BaseMiddleware
from aiogram.types import TelegramObject, Update

from bot.shared_state.update_ledger import MemoryUpdateLedger, UpdateLedger

logger = logging.getLogger(__name__)


class UpdateDeduplicationMiddleware(BaseMiddleware):
    def __init__(self, ledger: UpdateLedger | None = None) -> None:
        self.ledger: UpdateLedger = ledger or MemoryUpdateLedger()
        self.skipped = 0  # repeats not handled again (a metric hook)

    async def __call__(
        self,
        handler: Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]],
        event: TelegramObject,
        data: dict[str, Any],
    ) -> Any:
        # aiogram-dialog's background updates are not from Telegram and have no real id.
        if not isinstance(event, Update) or type(event) is not Update:
            return await handler(event, data)
        update_id = event.update_id
        if not await self.ledger.claim(update_id):
            self.skipped += 1
            logger.info("update %d delivered again; already handled", update_id)
            return None
        try:
            result = await handler(event, data)
        except BaseException:
            await self.ledger.release(update_id)
            raise
        await self.ledger.done(update_id)
        return result
