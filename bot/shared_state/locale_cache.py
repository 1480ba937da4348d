"""The teachers' chosen languages, cached in front of the database.

One process keeps them in a bounded LRU map. Several replicas share one Redis cache instead: a
per-process map would keep serving the old language on the replicas that did not handle the
teacher's /language choice (the write-behind may not even have committed it yet when the next
update lands elsewhere).
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any, Protocol

CACHE_SIZE = 10_000
REDIS_TTL_SECONDS = 7 * 24 * 3600


class LocaleCache(Protocol):
    async def get(self, user_id: int) -> str | None: ...

    async def put(self, user_id: int, locale: str) -> None: ...


class MemoryLocaleCache:
    """Bounded LRU map in this process."""

    def __init__(self, size: int = CACHE_SIZE) -> None:
        self.size = size
        self._map: OrderedDict[int, str] = OrderedDict()

    async def get(self, user_id: int) -> str | None:
        locale = self._map.get(user_id)
        if locale is not None:
            self._map.move_to_end(user_id)
        return locale

    async def put(self, user_id: int, locale: str) -> None:
        self._map[user_id] = locale
        self._map.move_to_end(user_id)
        while len(self._map) > self.size:
            self._map.popitem(last=False)

    def __len__(self) -> int:
        return len(self._map)


class RedisLocaleCache:
    """One cache for all replicas: `<prefix>:locale:<user>` (kept a week after the last write)."""

    def __init__(self, redis: Any, *, prefix: str = "sferum", ttl: int = REDIS_TTL_SECONDS):
        self._redis = redis
        self._prefix = f"{prefix}:locale:"
        self._ttl = ttl

    async def get(self, user_id: int) -> str | None:
        value = await self._redis.get(f"{self._prefix}{user_id}")
        if value is None:
            return None
        return value.decode() if isinstance(value, bytes) else str(value)

    async def put(self, user_id: int, locale: str) -> None:
        await self._redis.set(f"{self._prefix}{user_id}", locale, ex=self._ttl)
