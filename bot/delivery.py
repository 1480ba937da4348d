"""The delivery machinery one running bot needs, built and closed in one place.

- the single-replica lease when there is no REDIS_URL (bot/replica_guard.py);
- what updates share: de-duplication, locale cache, throttling, pacing, alert gate — in this
  process (de-duplication durable in SQL) or in Redis (bot/shared_state/);
- the circuit breaker in front of the linking backend (bot/backend_breaker.py);
- the `Committer` that makes handled updates' writes durable before they are confirmed
  (bot/durability.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from dataclasses import dataclass, field
from typing import Any, Protocol

from aiogram import Bot
from aiogram.fsm.storage.base import BaseStorage
from sqlalchemy.ext.asyncio import async_sessionmaker

from bot.backend_breaker import BreakerLinkingClient, CircuitBreaker
from bot.config import Settings
from bot.durability import Committer
from bot.replica_guard import hold_single_replica_lease
from bot.shared_state import SharedState, in_process, in_redis
from services.linking_client import LinkingClient
from services.storage.link_sessions import LinkSessionRepository
from services.storage.processed_updates import ProcessedUpdates


class TelegramTime(Protocol):
    """The time the bot waits on Telegram by: a monotonic clock and its sleep (pacing of the
    helpdesk's calls, waits before a retried call). Real by default; tests pass simulated time."""

    def __call__(self) -> float: ...

    async def sleep(self, seconds: float) -> None: ...


class RealTime:
    """`time.monotonic` and `asyncio.sleep`."""

    def __call__(self) -> float:
        return time.monotonic()

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)


@dataclass
class Delivery:
    shared: SharedState
    breaker: CircuitBreaker
    commit: Committer
    _stack: contextlib.AsyncExitStack = field(repr=False)

    def guard(self, linking: LinkingClient) -> Any:
        """`linking` behind the circuit breaker (the same methods)."""
        return BreakerLinkingClient(linking, self.breaker)

    async def close(self) -> None:
        """Release the shared state, the Redis connection and the lease."""
        await self._stack.aclose()


async def start_delivery(
    settings: Settings,
    bot: Bot,
    session_factory: async_sessionmaker,
    sessions: LinkSessionRepository,
    storage: BaseStorage,
    *,
    shared: SharedState | None = None,
    telegram_time: TelegramTime | None = None,
) -> Delivery:
    """Take the lease (or raise `ReplicaConflict`), build the shared state and the committer.

    `shared` replaces the shared state this builds (tests: Redis structures on a fixed clock);
    it is started and closed here all the same. `telegram_time` is the in-process pacing's clock.
    """
    async with contextlib.AsyncExitStack() as stack:
        if settings.redis_url and shared is None:
            from redis.asyncio import Redis

            redis = Redis.from_url(settings.redis_url)
            stack.push_async_callback(redis.aclose)
            # An update's claim lapses like its chat's event lock when a replica dies holding it.
            shared = in_redis(
                redis,
                bot_id=bot.id,
                prefix=settings.redis_prefix,
                claim_lease=settings.event_lock_timeout,
            )
        elif not settings.redis_url:
            lease = await hold_single_replica_lease(session_factory)
            stack.push_async_callback(lease.release)
            if shared is None:
                processed = ProcessedUpdates(session_factory, sessions.writer, bot_id=bot.id)
                shared = in_process(processed, clock=telegram_time or time.monotonic)
        assert shared is not None
        stack.push_async_callback(shared.close)
        await shared.start()
        commit = Committer([("write-behind", sessions.flush)])
        flush = getattr(storage, "flush", None)
        if flush is not None:  # SQL dialog storage: states a failed flush left dirty
            commit.add("dialog states", flush)
        return Delivery(shared, CircuitBreaker(), commit, stack.pop_all())
    raise AssertionError("unreachable")  # pragma: no cover
