"""Synchronous filters run on the event loop, not in a worker thread.

aiogram runs every filter whose callback is not a coroutine function through
`asyncio.to_thread` (aiogram/dispatcher/event/handler.py, `CallableObject.call`): each
`F.text`, `F.chat.type == …` or plain function costs a thread hop, two wake-ups of the event
loop and a fight for the GIL with the database's thread. Scenario A's updates went through
~2.6 of them each (bench/README.md, "What made the difference in the bot"). Our filters are
pure look-ups on the update, so running them inline is both correct and ~100× cheaper.

`run_filters_inline(dp)` rewrites the filters of every router already included; call it once
the Dispatcher is complete. Handlers are left alone: a synchronous handler may block.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from aiogram import Router
from aiogram.dispatcher.event.handler import FilterObject


def _inline(callback: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(callback)
    async def run(*args: Any, **kwargs: Any) -> Any:
        return callback(*args, **kwargs)

    return run


def _rewrite(filters: list[FilterObject] | None) -> int:
    rewritten = 0
    for item in filters or ():
        if not item.awaitable:
            # params/varkw stay those of the original callback: the same arguments reach it.
            item.callback = _inline(item.callback)
            item.awaitable = True
            rewritten += 1
    return rewritten


def run_filters_inline(router: Router) -> int:
    """Make every synchronous filter under `router` a coroutine; returns how many were."""
    rewritten = 0
    for observer in router.observers.values():
        rewritten += _rewrite(observer._handler.filters)  # the router-wide `.filter(...)`
        for handler in observer.handlers:
            rewritten += _rewrite(handler.filters)
    for child in router.sub_routers:
        rewritten += run_filters_inline(child)
    return rewritten
