"""Outer update middleware: one storage scope per update, so FSM writes are flushed once."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from typing import Any, Protocol

from aiogram import BaseMiddleware
from aiogram.types import TelegramObject


class ScopedStorage(Protocol):
    def scope(self) -> AbstractAsyncContextManager[None]: ...


class StorageScopeMiddleware(BaseMiddleware):
    """Wraps each update in `storage.scope()`.

    Register on `dp.update.outer_middleware` for an SQLStorage; the storage's reads are then
    cached for the update and its writes flushed in one transaction when the update ends,
    even when the handler raised.
    """

    def __init__(self, storage: ScopedStorage) -> None:
        self.storage = storage

    async def __call__(
        self,
        handler: Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]],
        event: TelegramObject,
        data: dict[str, Any],
    ) -> Any:
        async with self.storage.scope():
            return await handler(event, data)
