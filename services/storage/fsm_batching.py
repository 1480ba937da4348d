"""Coalescing of concurrent FSM reads into one query.

Under load many updates miss the cache in the same event-loop turn (a burst of /start after a
restart). One `SELECT … WHERE key IN (…)` for all of them costs about what one SELECT costs.
The batching is the group commit of services/storage/group_commit.py; each key has its own
future for its value. A reader waits for her value (a teacher's first update waits for it before
anything else), so a load batch starts `at_once`: it takes the keys missed in the loop turn that
asked for it, without waiting one more turn for others (bench/README.md, stop 19).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from itertools import islice

from services.storage.group_commit import GroupCommit, consume_exception

LoadMany = Callable[[Sequence[str]], Awaitable[dict[str, str]]]

MAX_KEYS_PER_QUERY = 500  # well under SQLite's bound-parameter limit


class LoadBatcher:
    """Hands out a future per key; one background task resolves them with batched queries.

    Keys requested while a query runs go into the next one. A missing row resolves to None.
    """

    def __init__(self, load_many: LoadMany, max_keys: int = MAX_KEYS_PER_QUERY) -> None:
        self._load_many = load_many
        self._max_keys = max_keys
        self._queued: dict[str, asyncio.Future[str | None]] = {}
        self._loads = GroupCommit(self._load_batch, name="fsm loads")

    def request(self, key: str) -> asyncio.Future[str | None]:
        """Future of the stored value of `key` (shared by requests queued together)."""
        future = self._queued.get(key)
        if future is None:
            future = asyncio.get_running_loop().create_future()
            future.add_done_callback(consume_exception)
            self._queued[key] = future
            self._loads.schedule(at_once=True)
        return future

    async def _load_batch(self) -> None:
        """One batch: up to `max_keys` of the keys queued, in one query; the rest go next."""
        batch = {key: self._queued[key] for key in islice(self._queued, self._max_keys)}
        for key in batch:
            del self._queued[key]
        if self._queued:
            self._loads.schedule(at_once=True)
        try:
            rows = await self._load_many(list(batch))
        except Exception as error:  # each reader gets it; the batch itself has no waiter
            for future in batch.values():
                if not future.done():
                    future.set_exception(error)
            return
        except BaseException:  # cancelled (loop shutting down): so are its readers
            for future in batch.values():
                future.cancel()
            raise
        for key, future in batch.items():
            if not future.done():
                future.set_result(rows.get(key))
