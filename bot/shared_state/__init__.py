"""What updates share across one another: de-duplication, language cache, flood control,
pacing, alert gates — in this process, or in Redis so that replicas share them.

`in_process()` serves one bot process (SQLite or a single PostgreSQL replica); `in_redis()` serves
any number of replicas behind a load balancer (REDIS_URL). Each structure is a small protocol
with both implementations in its module, so handlers and middlewares never know which it is.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from bot.shared_state.locale_cache import LocaleCache, MemoryLocaleCache, RedisLocaleCache
from bot.shared_state.once import MemoryOncePerWindow, OncePerWindow, RedisOncePerWindow
from bot.shared_state.pacing import MemoryPacingBudget, PacingBudget, RedisPacingBudget
from bot.shared_state.throttle_store import (
    MemoryThrottleStore,
    RedisThrottleStore,
    ThrottleStore,
)
from bot.shared_state.update_ledger import MemoryUpdateLedger, RedisUpdateLedger, UpdateLedger
from services.storage.processed_updates import ProcessedUpdates

ALERT_WINDOW = 60.0


@dataclass
class SharedState:
    ledger: UpdateLedger
    locale_cache: LocaleCache
    throttle: ThrottleStore
    pacing: PacingBudget
    alerts_gate: OncePerWindow
    redis: Any = None

    @property
    def shared_by_replicas(self) -> bool:
        return self.redis is not None

    async def start(self) -> None:
        """Load what must be known before the first update (the durable ledger's horizon)."""
        if isinstance(self.ledger, MemoryUpdateLedger):
            await self.ledger.start()

    async def close(self) -> None:
        await self.ledger.close()


def in_process(
    processed: ProcessedUpdates | None = None, *, clock: Callable[[], float] = time.monotonic
) -> SharedState:
    """For one process; `processed` makes de-duplication survive a restart, `clock` (monotonic)
    is the helpdesk pacing's."""
    return SharedState(
        ledger=MemoryUpdateLedger(processed=processed),
        locale_cache=MemoryLocaleCache(),
        throttle=MemoryThrottleStore(),
        pacing=MemoryPacingBudget(clock=clock),
        alerts_gate=MemoryOncePerWindow(ALERT_WINDOW),
    )


def in_redis(
    redis: Any, *, bot_id: int, prefix: str = "sferum", claim_lease: float = 15.0
) -> SharedState:
    """For replicas: every structure in Redis under `prefix` (the caller owns `redis`).

    `claim_lease`: seconds an update being handled stays claimed by a replica that died.
    Every key holds the bot's id (`<prefix>:<bot_id>:…`): bots sharing a Redis never mix.
    """
    scoped = f"{prefix}:{bot_id}"
    return SharedState(
        ledger=RedisUpdateLedger(redis, prefix=scoped, lease_ms=int(claim_lease * 1000)),
        locale_cache=RedisLocaleCache(redis, prefix=scoped),
        throttle=RedisThrottleStore(redis, prefix=scoped),
        pacing=RedisPacingBudget(redis, prefix=scoped),
        alerts_gate=RedisOncePerWindow(redis, ALERT_WINDOW, prefix=scoped),
        redis=redis,
    )


__all__ = ["SharedState", "in_process", "in_redis"]
