"""'At most once per window' gates (e.g. one admin alert a minute), per process or in Redis."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, Protocol


class OncePerWindow(Protocol):
    async def first(self, name: str) -> bool:
        """True for the first call with `name` in the current window, False for the others."""


class MemoryOncePerWindow:
    def __init__(self, window: float, monotonic: Callable[[], float] = time.monotonic) -> None:
        self.window = window
        self._monotonic = monotonic
        self._until: dict[str, float] = {}

    async def first(self, name: str) -> bool:
        now = self._monotonic()
        if self._until.get(name, float("-inf")) > now:
            return False
        self._until[name] = now + self.window
        return True


class RedisOncePerWindow:
    """Shared by replicas: `SET <prefix>:once:<name> NX EX window`."""

    def __init__(self, redis: Any, window: float, *, prefix: str = "sferum") -> None:
        self._redis = redis
        self.window = window
        self._prefix = f"{prefix}:once:"

    async def first(self, name: str) -> bool:
        key = f"{self._prefix}{name}"
        return bool(await self._redis.set(key, 1, nx=True, px=int(self.window * 1000)))
