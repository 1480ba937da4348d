"""Fan-out of world changes to live listeners (the browser's server-sent events, tests)."""

from __future__ import annotations

import asyncio
import copy
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any


class EventBus:
    """Every subscriber gets its own queue of deep-copied events, so later edits never leak in."""

    def __init__(self) -> None:
        self._subscribers: set[asyncio.Queue[dict[str, Any]]] = set()

    def close(self) -> None:
        """Server shutdown: every listener gets a final `{"type": "closed"}` event."""
        for queue in self._subscribers:
            queue.put_nowait({"type": "closed"})

    def publish(self, event: dict[str, Any]) -> None:
        for queue in self._subscribers:
            queue.put_nowait(copy.deepcopy(event))

    @contextmanager
    def subscribe(self) -> Iterator[asyncio.Queue[dict[str, Any]]]:
        queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self._subscribers.add(queue)
        try:
            yield queue
        finally:
            self._subscribers.discard(queue)
