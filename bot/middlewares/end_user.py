"""Outer update middleware: every backend call of an update names the teacher it acts for.

The linking backend binds flows and recoveries to the end user who opened them and keeps quotas
per end user, so the `linking` client handlers receive is the workflow client's view for the
update's Telegram user (`LinkingClient.for_user`, sharing the HTTP session). An update without a
user keeps the plain client: its calls carry no end user, and the backend refuses flow calls.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from aiogram import BaseMiddleware
from aiogram.types import TelegramObject, User

from services.linking_client import LinkingClient


class EndUserMiddleware(BaseMiddleware):
    async def __call__(
        self,
        handler: Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]],
        event: TelegramObject,
        data: dict[str, Any],
    ) -> Any:
        user: User | None = data.get("event_from_user")
        linking: LinkingClient | None = data.get("linking")
        if user is not None and linking is not None:
            data["linking"] = linking.for_user(user.id)
        return await handler(event, data)
