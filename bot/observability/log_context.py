"""Outer update middleware: the update id and the masked user id of every log line it causes.

They stay set for the rest of the task rather than being reset on the way out, so that aiogram's
error handlers, which run outside the middleware, log them too; each update (a webhook request, a
polling task) starts by setting its own.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from aiogram import BaseMiddleware
from aiogram.types import TelegramObject, Update, User
from aiogram.types.update import UpdateTypeLookupError

from bot.observability.logs import mask_user_id, update_id_var, user_var


def _user_of(event: Update) -> User | None:
    try:
        inner = event.event
    except UpdateTypeLookupError:  # a type newer than this aiogram
        return None
    return getattr(inner, "from_user", None) or getattr(inner, "user", None)


class UpdateLogContext(BaseMiddleware):
    """Log lines of this update carry its id and its masked user."""

    async def __call__(
        self,
        handler: Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]],
        event: TelegramObject,
        data: dict[str, Any],
    ) -> Any:
        # aiogram-dialog's background updates are subclasses with no real Telegram id.
        if type(event) is Update:
            update_id_var.set(event.update_id)
            user = _user_of(event)
            user_var.set(mask_user_id(user.id) if user is not None else None)
        return await handler(event, data)
