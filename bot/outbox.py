"""Paced delivery of Bot API calls: queue, never drop, within Telegram's limits.

Telegram allows about 20 messages a minute into one group, about one a second into one chat and
about 30 a second overall. `Outbox.send` waits for its turn (FIFO per chat) and then makes the
call, so a busy helpdesk group gets its messages late but complete and in order. The clock and the
sleep are injectable, so tests check the pacing without waiting.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from aiogram import Bot
from aiogram.methods import TelegramMethod
from aiogram.methods.base import TelegramType


@dataclass(frozen=True)
class DeliveryLimits:
    group_per_minute: int = 20
    per_chat_interval: float = 1.0  # seconds between two messages into the same chat
    global_per_second: int = 30


class Outbox:
    """Per-chat FIFO queues with a sliding-window rate limiter in front of `bot(method)`."""

    def __init__(
        self,
        limits: DeliveryLimits | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep,
    ) -> None:
        self.limits = limits or DeliveryLimits()
        self._clock = clock
        self._sleep = sleep
        self._locks: dict[int, asyncio.Lock] = {}
        self._per_chat: dict[int, deque[float]] = {}
        self._everywhere: deque[float] = deque()

    async def send(
        self, bot: Bot, chat_id: int, method: TelegramMethod[TelegramType]
    ) -> TelegramType:
        """Wait for `chat_id`'s turn within the limits, then call the Bot API (errors propagate)."""
        lock = self._locks.setdefault(chat_id, asyncio.Lock())
        async with lock:
            await self._wait_for_slot(chat_id)
            return await bot(method)

    def pending(self, chat_id: int) -> bool:
        """True while a call into `chat_id` waits or runs."""
        lock = self._locks.get(chat_id)
        return bool(lock and lock.locked())

    async def _wait_for_slot(self, chat_id: int) -> None:
        sent = self._per_chat.setdefault(chat_id, deque())
        while True:
            delay = self._delay(chat_id, sent, self._clock())
            if delay <= 0:
                now = self._clock()
                sent.append(now)
                self._everywhere.append(now)
                return
            await self._sleep(delay)

    def _delay(self, chat_id: int, sent: deque[float], now: float) -> float:
        limits = self.limits
        window = 60.0 if chat_id < 0 else limits.per_chat_interval
        while sent and sent[0] <= now - window:
            sent.popleft()
        while self._everywhere and self._everywhere[0] <= now - 1.0:
            self._everywhere.popleft()
        delay = 0.0
        if sent:
            delay = max(delay, sent[-1] + limits.per_chat_interval - now)
        if chat_id < 0 and len(sent) >= limits.group_per_minute:
            delay = max(delay, sent[-limits.group_per_minute] + 60.0 - now)
        if len(self._everywhere) >= limits.global_per_second:
            delay = max(delay, self._everywhere[-limits.global_per_second] + 1.0 - now)
        return delay
