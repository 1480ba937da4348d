"""Paced delivery of Bot API calls: queue, never drop, within Telegram's limits, fair per ticket.

Telegram allows about 20 messages a minute into one group, about one a second into one chat and
about 30 a second overall. `Outbox.send` queues the call and returns its result once it was made:
a busy helpdesk group gets its messages late but complete.

Order and fairness. Calls into one chat go out one at a time. Within a chat they are grouped in
*lanes* (the helpdesk uses one lane per ticket): a lane is first-in first-out, and lanes take turns
(round-robin), so one teacher who sends 120 messages delays another teacher's card by one slot per
busy lane, not by her whole backlog.

The limits are a `PacingBudget` (bot/shared_state/pacing.py): this process's bookings, or Redis
shared by every replica. The clock and the sleep are injectable, so tests check the pacing without
waiting. Memory is bounded: a chat's queue exists only while it has calls waiting.
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict, deque
from collections.abc import Awaitable, Callable, Hashable
from dataclasses import dataclass, field
from typing import Any

from aiogram import Bot
from aiogram.methods import TelegramMethod
from aiogram.methods.base import TelegramType

from bot.shared_state.pacing import DeliveryLimits, MemoryPacingBudget, PacingBudget

__all__ = ["DeliveryLimits", "Outbox"]


@dataclass(slots=True)
class _Job:
    bot: Bot
    method: TelegramMethod[Any]
    result: asyncio.Future[Any]


@dataclass
class _ChatQueue:
    """The calls waiting for one chat, by lane, and the task sending them."""

    lanes: OrderedDict[Hashable, deque[_Job]] = field(default_factory=OrderedDict)
    worker: asyncio.Task[None] | None = None

    def next_job(self) -> tuple[Hashable, _Job] | None:
        """The head of the lane whose turn it is (see `turn_done`)."""
        while self.lanes:
            lane, jobs = next(iter(self.lanes.items()))
            job = jobs.popleft()
            if not jobs:
                del self.lanes[lane]
            if not job.result.done():  # a caller that gave up (cancelled) is skipped
                return lane, job
        return None

    def turn_done(self, lane: Hashable) -> None:
        """The lane's call went out: it goes behind every lane waiting now (including lanes
        that arrived while the call was paced), so a newcomer never waits a whole round."""
        if lane in self.lanes:
            self.lanes.move_to_end(lane)


class Outbox:
    """Per-chat queues, lanes taking turns, and a pacing budget in front of `bot(method)`."""

    def __init__(
        self,
        limits: DeliveryLimits | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep,
        budget: PacingBudget | None = None,
    ) -> None:
        self._budget: PacingBudget = budget or MemoryPacingBudget(limits, clock=clock)
        self.limits = self._budget.limits
        self._sleep = sleep
        self._queues: dict[int, _ChatQueue] = {}

    async def send(
        self,
        bot: Bot,
        chat_id: int,
        method: TelegramMethod[TelegramType],
        *,
        lane: Hashable = None,
    ) -> TelegramType:
        """Queue the call in `lane` of `chat_id`; return its result once made (errors propagate)."""
        queue = self._queues.get(chat_id)
        if queue is None:
            queue = self._queues[chat_id] = _ChatQueue()
        job = _Job(bot, method, asyncio.get_running_loop().create_future())
        queue.lanes.setdefault(lane, deque()).append(job)
        if queue.worker is None:
            queue.worker = asyncio.create_task(self._drain(chat_id, queue))
        return await job.result

    def pending(self, chat_id: int) -> bool:
        """True while a call into `chat_id` waits or runs."""
        return chat_id in self._queues

    @property
    def chats_waiting(self) -> int:
        """Chats with calls queued (a gauge for metrics)."""
        return len(self._queues)

    async def _drain(self, chat_id: int, queue: _ChatQueue) -> None:
        try:
            while (turn := queue.next_job()) is not None:
                lane, job = turn
                delay = await self._budget.reserve(chat_id)
                if delay > 0:
                    await self._sleep(delay)
                if not job.result.done():
                    try:
                        result = await job.bot(job.method)
                    except Exception as error:
                        job.result.set_exception(error)
                    except BaseException:
                        job.result.cancel()
                        raise
                    else:
                        job.result.set_result(result)
                queue.turn_done(lane)
        finally:
            queue.worker = None
            for jobs in queue.lanes.values():  # only when cancelled: its callers must not hang
                for waiting in jobs:
                    waiting.result.cancel()
            if self._queues.get(chat_id) is queue:
                del self._queues[chat_id]
