"""Which updates are being handled and which are done: the memory behind de-duplication.

An update is *claimed* before it is handled and marked *done* after its handling finished and
its writes were committed (or *released* when handling failed, so that a redelivery handles it
again). A second delivery of the same update:
- finds it done → skipped (one effect);
- finds it claimed → waits until the holder marks it done (skip) or releases it (handle), so a
  webhook retry arriving while the first delivery is still being handled never runs it twice;
- finds the claim of a process that died → takes over once the claim's lease lapses.

`MemoryUpdateLedger` serves one process; with `processed` (services/storage/processed_updates.py)
its done markers also survive a restart. `RedisUpdateLedger` serves several replicas: the claim is
`SET key NX PX lease` renewed while the handler runs, the done marker a key kept for a day.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

from services.storage.processed_updates import ProcessedUpdates

logger = logging.getLogger(__name__)

Sleep = Callable[[float], Awaitable[Any]]

DEFAULT_CAPACITY = 10_000
PURGE_EVERY = 10_000  # done markers between two purges of the durable ones


class UpdateLedger(Protocol):
    async def claim(self, update_id: int) -> bool:
        """True: this caller handles the update now. False: it is already done."""

    async def done(self, update_id: int) -> None:
        """The update is handled and its writes committed."""

    async def release(self, update_id: int) -> None:
        """Handling failed: a later delivery may handle the update again."""

    async def close(self) -> None: ...


class MemoryUpdateLedger:
    """One process's ledger: bounded memory of done ids, optionally durable markers."""

    def __init__(
        self, capacity: int = DEFAULT_CAPACITY, *, processed: ProcessedUpdates | None = None
    ) -> None:
        self.capacity = capacity
        self._processed = processed
        self._done: OrderedDict[int, None] = OrderedDict()
        self._in_flight: dict[int, asyncio.Event] = {}
        self._marks = 0
        self._purging: asyncio.Task[Any] | None = None

    async def start(self) -> None:
        """Load the durable horizon (and drop expired markers) before the first update."""
        if self._processed is not None:
            await self._processed.purge()
            await self._processed.load_horizon()

    async def claim(self, update_id: int) -> bool:
        while (running := self._in_flight.get(update_id)) is not None:
            await running.wait()  # the same update, delivered again while still handled
        if update_id in self._done:
            return False
        self._in_flight[update_id] = asyncio.Event()
        if self._processed is not None:
            try:
                if await self._processed.is_done(update_id):
                    self._forget_in_flight(update_id)
                    self._remember(update_id)
                    return False
            except BaseException:
                self._forget_in_flight(update_id)
                raise
        return True

    async def done(self, update_id: int) -> None:
        self._remember(update_id)
        self._forget_in_flight(update_id)
        if self._processed is not None:
            await self._processed.mark_done(update_id)
            self._marks += 1
            if self._marks % PURGE_EVERY == 0 and self._purging is None:
                self._purging = asyncio.create_task(self._purge())

    async def release(self, update_id: int) -> None:
        self._forget_in_flight(update_id)

    async def close(self) -> None:
        if self._purging is not None:
            await self._purging

    def _remember(self, update_id: int) -> None:
        self._done[update_id] = None
        while len(self._done) > self.capacity:
            self._done.popitem(last=False)

    def _forget_in_flight(self, update_id: int) -> None:
        event = self._in_flight.pop(update_id, None)
        if event is not None:
            event.set()

    async def _purge(self) -> None:
        try:
            assert self._processed is not None
            await self._processed.purge()
        except Exception:
            logger.warning("old processed-update markers not purged", exc_info=True)
        finally:
            self._purging = None


# Compare-and-act on a claim this process holds: renew it, or delete it.
_RENEW = """
if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('pexpire', KEYS[1], ARGV[2]) end
return 0
"""
_RELEASE = """
if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end
return 0
"""
DONE = b"done"


class RedisUpdateLedger:
    """The ledger shared by replicas through Redis (keys `<prefix>:update:<update>`; the prefix
    names the bot, e.g. `sferum:<bot id>`)."""

    def __init__(
        self,
        redis: Any,
        *,
        prefix: str,
        lease_ms: int = 15_000,
        keep_done_ms: int = 24 * 3600 * 1000,
        poll: float = 0.2,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        """`lease_ms`: how long a claim outlives a process that died holding it (renewed every
        third of it while the handler runs); `keep_done_ms`: how long done markers are kept;
        `poll`: how often a waiting delivery looks at a claim held elsewhere."""
        self._redis = redis
        self._prefix = f"{prefix}:update:"
        self._lease_ms = lease_ms
        self._keep_done_ms = keep_done_ms
        self._poll = poll
        self._sleep = sleep
        self._token = f"claim:{uuid.uuid4().hex}".encode()
        self._held: set[int] = set()
        self._renewer: asyncio.Task[None] | None = None

    def _key(self, update_id: int) -> str:
        return f"{self._prefix}{update_id}"

    async def claim(self, update_id: int) -> bool:
        key = self._key(update_id)
        while True:
            if await self._redis.set(key, self._token, nx=True, px=self._lease_ms):
                self._held.add(update_id)
                if self._renewer is None:
                    self._renewer = asyncio.create_task(self._renew_forever())
                return True
            value = await self._redis.get(key)
            if value == DONE:
                return False
            if value is None:
                continue  # released or lapsed just now: try again
            # Another delivery holds it (here or on another replica): wait for its outcome.
            await self._sleep(self._poll)

    async def done(self, update_id: int) -> None:
        self._held.discard(update_id)
        await self._redis.set(self._key(update_id), DONE, px=self._keep_done_ms)

    async def release(self, update_id: int) -> None:
        self._held.discard(update_id)
        await self._redis.eval(_RELEASE, 1, self._key(update_id), self._token)

    async def close(self) -> None:
        if self._renewer is not None:
            self._renewer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._renewer
            self._renewer = None

    async def _renew_forever(self) -> None:
        while True:
            await asyncio.sleep(self._lease_ms / 3000)
            for update_id in list(self._held):
                try:
                    await self._redis.eval(
                        _RENEW, 1, self._key(update_id), self._token, self._lease_ms
                    )
                except Exception:
                    logger.warning("claim of update %d not renewed", update_id, exc_info=True)
