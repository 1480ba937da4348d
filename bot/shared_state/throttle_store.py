"""What flood control remembers per teacher: recent message times, the one warning, presses.

Per process for one bot process; in Redis for replicas (a teacher's updates land on any replica,
so a per-process count would let a flood through N times over and a double tap on two replicas
would run the action twice).
"""

from __future__ import annotations

import hashlib
import time
import uuid
from collections import OrderedDict, deque
from collections.abc import Callable
from typing import Any, Protocol

MAX_TRACKED_USERS = 10_000
PRESS_LEASE_MS = 60_000  # a press whose handler died is forgotten after this


class ThrottleStore(Protocol):
    async def count_message(self, user_id: int, window: float) -> int:
        """Record a message now; how many she sent within the last `window` seconds."""

    async def first_warning(self, user_id: int, window: float) -> bool:
        """True for the first flood warning since she last calmed down."""

    async def calm(self, user_id: int) -> None:
        """She is back to human speed: the next flood gets a warning again."""

    async def start_press(self, user_id: int, data: str, update_id: int) -> bool:
        """False when the same button of hers is still being handled for another update (the
        same update delivered again, e.g. after a replica died handling it, may go on)."""

    async def end_press(self, user_id: int, data: str) -> None: ...


class MemoryThrottleStore:
    """In this process; bounded to the `MAX_TRACKED_USERS` most recent teachers."""

    def __init__(self, monotonic: Callable[[], float] = time.monotonic) -> None:
        self._monotonic = monotonic
        self._messages: OrderedDict[int, deque[float]] = OrderedDict()
        self._warned: set[int] = set()
        self._pressing: dict[tuple[int, str], int] = {}

    async def count_message(self, user_id: int, window: float) -> int:
        now = self._monotonic()
        stamps = self._messages.setdefault(user_id, deque())
        self._messages.move_to_end(user_id)
        while stamps and now - stamps[0] > window:
            stamps.popleft()
        stamps.append(now)
        while len(self._messages) > MAX_TRACKED_USERS:
            evicted, _ = self._messages.popitem(last=False)
            self._warned.discard(evicted)
        return len(stamps)

    async def first_warning(self, user_id: int, window: float) -> bool:
        if user_id in self._warned:
            return False
        self._warned.add(user_id)
        return True

    async def calm(self, user_id: int) -> None:
        self._warned.discard(user_id)

    async def start_press(self, user_id: int, data: str, update_id: int) -> bool:
        holder = self._pressing.setdefault((user_id, data), update_id)
        return holder == update_id

    async def end_press(self, user_id: int, data: str) -> None:
        self._pressing.pop((user_id, data), None)

    @property
    def tracked(self) -> int:
        return len(self._messages)


class RedisThrottleStore:
    """Shared by replicas: a sorted set of message times per teacher, flags with a lifetime."""

    def __init__(
        self, redis: Any, *, prefix: str = "sferum", clock: Callable[[], float] = time.time
    ) -> None:
        self._redis = redis
        self._prefix = f"{prefix}:throttle:"
        self._clock = clock  # wall time: replicas do not share a monotonic clock

    async def count_message(self, user_id: int, window: float) -> int:
        now = self._clock()
        key = f"{self._prefix}msgs:{user_id}"
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.zremrangebyscore(key, "-inf", now - window)
            pipe.zadd(key, {f"{now}:{uuid.uuid4().hex[:8]}": now})
            pipe.zcard(key)
            pipe.pexpire(key, int(window * 1000) + 1000)
            _, _, count, _ = await pipe.execute()
        return int(count)

    async def first_warning(self, user_id: int, window: float) -> bool:
        key = f"{self._prefix}warned:{user_id}"
        return bool(await self._redis.set(key, 1, nx=True, px=int(window * 1000) * 6))

    async def calm(self, user_id: int) -> None:
        await self._redis.delete(f"{self._prefix}warned:{user_id}")

    def _press_key(self, user_id: int, data: str) -> str:
        digest = hashlib.sha1(data.encode(), usedforsecurity=False).hexdigest()[:16]
        return f"{self._prefix}press:{user_id}:{digest}"

    async def start_press(self, user_id: int, data: str, update_id: int) -> bool:
        key = self._press_key(user_id, data)
        if await self._redis.set(key, update_id, nx=True, px=PRESS_LEASE_MS):
            return True
        holder = await self._redis.get(key)
        return holder is not None and int(holder) == update_id

    async def end_press(self, user_id: int, data: str) -> None:
        await self._redis.delete(self._press_key(user_id, data))
