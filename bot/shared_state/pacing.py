"""Telegram's sending limits as a budget of time slots: per chat, per group, for the whole bot.

`reserve(chat_id)` books the earliest moment a message into `chat_id` may be sent without
breaking the limits (≈1 a second into one chat, 20 a minute into one group, 30 a second
overall) and returns how long to wait for it. Booking (rather than checking and then sending)
makes concurrent senders line up instead of racing for the same slot; in Redis the booking is
one Lua script, so the limits hold for all replicas together.
"""

from __future__ import annotations

import time
import uuid
from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

GROUP_WINDOW = 60.0
GLOBAL_WINDOW = 1.0


@dataclass(frozen=True)
class DeliveryLimits:
    group_per_minute: int = 20
    per_chat_interval: float = 1.0  # seconds between two messages into the same chat
    global_per_second: int = 30


class PacingBudget(Protocol):
    limits: DeliveryLimits

    async def reserve(self, chat_id: int) -> float:
        """Book the next slot for `chat_id`; seconds to wait until it (0: send now)."""


def _is_group(chat_id: int) -> bool:
    return chat_id < 0


class MemoryPacingBudget:
    """This process's bookings; chats idle for a minute are forgotten (bounded memory)."""

    def __init__(
        self, limits: DeliveryLimits | None = None, *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.limits = limits or DeliveryLimits()
        self._clock = clock
        self._per_chat: OrderedDict[int, deque[float]] = OrderedDict()
        self._everywhere: deque[float] = deque()

    @property
    def tracked_chats(self) -> int:
        return len(self._per_chat)

    async def reserve(self, chat_id: int) -> float:
        now = self._clock()
        self._forget_idle(now)
        limits = self.limits
        booked = self._per_chat.pop(chat_id, None) or deque()
        self._per_chat[chat_id] = booked  # most recently used last
        window = GROUP_WINDOW if _is_group(chat_id) else limits.per_chat_interval
        while booked and booked[0] <= now - window:
            booked.popleft()
        while self._everywhere and self._everywhere[0] <= now - GLOBAL_WINDOW:
            self._everywhere.popleft()
        slot = now
        if booked:
            slot = max(slot, booked[-1] + limits.per_chat_interval)
        if _is_group(chat_id) and len(booked) >= limits.group_per_minute:
            slot = max(slot, booked[-limits.group_per_minute] + GROUP_WINDOW)
        if len(self._everywhere) >= limits.global_per_second:
            slot = max(slot, self._everywhere[-limits.global_per_second] + GLOBAL_WINDOW)
        booked.append(slot)
        self._everywhere.append(slot)
        return slot - now

    def _forget_idle(self, now: float) -> None:
        while self._per_chat:
            chat_id, booked = next(iter(self._per_chat.items()))
            if booked and booked[-1] > now - GROUP_WINDOW:
                return
            del self._per_chat[chat_id]


# KEYS: the chat's bookings, everyone's bookings. ARGV: now, per-chat interval, chat window,
# group limit (0 for a private chat), global limit, member id. Returns the booked slot.
_RESERVE = """
local now = tonumber(ARGV[1])
local interval = tonumber(ARGV[2])
local window = tonumber(ARGV[3])
local group_limit = tonumber(ARGV[4])
local global_limit = tonumber(ARGV[5])
redis.call('zremrangebyscore', KEYS[1], '-inf', now - window)
redis.call('zremrangebyscore', KEYS[2], '-inf', now - 1)
local slot = now
local last = redis.call('zrange', KEYS[1], -1, -1, 'WITHSCORES')
if last[2] then slot = math.max(slot, tonumber(last[2]) + interval) end
if group_limit > 0 and redis.call('zcard', KEYS[1]) >= group_limit then
  local nth = redis.call('zrange', KEYS[1], -group_limit, -group_limit, 'WITHSCORES')
  slot = math.max(slot, tonumber(nth[2]) + window)
end
if redis.call('zcard', KEYS[2]) >= global_limit then
  local nth = redis.call('zrange', KEYS[2], -global_limit, -global_limit, 'WITHSCORES')
  slot = math.max(slot, tonumber(nth[2]) + 1)
end
redis.call('zadd', KEYS[1], slot, ARGV[6])
redis.call('zadd', KEYS[2], slot, ARGV[6])
redis.call('pexpire', KEYS[1], math.ceil((slot - now + window) * 1000) + 1000)
redis.call('pexpire', KEYS[2], math.ceil((slot - now + 1) * 1000) + 1000)
return tostring(slot)
"""


class RedisPacingBudget:
    """Bookings shared by replicas: `<prefix>:pace:<chat>` and `<prefix>:pace:all`."""

    def __init__(
        self,
        redis: Any,
        limits: DeliveryLimits | None = None,
        *,
        prefix: str = "sferum",
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._redis = redis
        self.limits = limits or DeliveryLimits()
        self._prefix = f"{prefix}:pace:"
        self._clock = clock  # wall time: replicas share no monotonic clock

    async def reserve(self, chat_id: int) -> float:
        now = self._clock()
        limits = self.limits
        group = _is_group(chat_id)
        slot = await self._redis.eval(
            _RESERVE,
            2,
            f"{self._prefix}{chat_id}",
            f"{self._prefix}all",
            repr(now),
            repr(limits.per_chat_interval),
            repr(GROUP_WINDOW if group else limits.per_chat_interval),
            limits.group_per_minute if group else 0,
            limits.global_per_second,
            uuid.uuid4().hex,
        )
        return max(0.0, float(slot) - now)
