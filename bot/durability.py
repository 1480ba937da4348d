"""Making the writes of handled updates durable before Telegram is told they are handled.

The polling loop (bot/polling.py) confirms a batch's offset, and a webhook answers 200, only after
`commit()` returned: the dialog states (SQL FSM storage, flushed at the end of each update but
kept dirty when that flush failed) and the write-behind rows (link sessions, events, transcript,
processed-update markers) are then in the database. While the database is away it keeps
retrying with backoff — the updates stay unconfirmed, and Telegram keeps them for us.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from services.storage.transient import Backoff, is_transient

logger = logging.getLogger(__name__)

Flush = Callable[[], Awaitable[Any]]


class Committer:
    """`await committer()` returns once every named flush succeeded (each retried until then)."""

    def __init__(
        self,
        flushes: Sequence[tuple[str, Flush]],
        *,
        backoff: Backoff | None = None,
        sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep,
    ) -> None:
        self._flushes = list(flushes)
        self._backoff = backoff or Backoff(initial=0.2, maximum=5.0)
        self._sleep = sleep
        self.retries = 0  # a metric hook: commits that had to wait for the database

    def add(self, name: str, flush: Flush) -> None:
        self._flushes.append((name, flush))

    async def __call__(self) -> None:
        for name, flush in self._flushes:
            attempt = 0
            while True:
                try:
                    await flush()
                    break
                except Exception as error:
                    attempt += 1
                    self.retries += 1
                    delay = self._backoff.delay(attempt)
                    if attempt == 1 or attempt % 10 == 0:
                        logger.warning(
                            "commit of %s failed (%s%s); retry %d in %.1fs",
                            name,
                            type(error).__name__,
                            "" if is_transient(error) else ", not transient",
                            attempt,
                            delay,
                            exc_info=not is_transient(error),
                        )
                    await self._sleep(delay)
