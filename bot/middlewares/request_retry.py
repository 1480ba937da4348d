"""Bot API calls that survive Telegram's flood control and brief outages — without duplicates.

A session request middleware. What is repeated depends on what Telegram may already have done:
- 429 (`TelegramRetryAfter`): Telegram guarantees the call was NOT performed, so any call waits
  the `retry_after` Telegram asked for and is repeated — sent later, in order (the caller waits),
  once.
- A connection that could not even be opened: nothing reached Telegram, so any call is repeated
  with exponential backoff.
- 5xx, a timeout, a broken connection, an undecodable answer (an HTML 502 page): the call may or
  may not have been performed. Only calls that are safe to repeat (reads, edits, deletes,
  settings: IDEMPOTENT_METHODS) are retried; a send (sendMessage, copyMessage, createForumTopic…)
  is not, since a blind repeat could post it twice — the error reaches the caller, and the update's
  error handler offers the teacher a retry instead.
- answerCallbackQuery is never repeated: its answer is only useful within seconds of the tap.
Retries are bounded, so a persistent failure still reaches the caller as the original error.
`on_retry(method_name, reason)` lets metrics count retries.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
from aiogram import Bot
from aiogram.client.session.middlewares.base import (
    BaseRequestMiddleware,
    NextRequestMiddlewareType,
)
from aiogram.exceptions import (
    ClientDecodeError,
    TelegramNetworkError,
    TelegramRetryAfter,
    TelegramServerError,
)
from aiogram.methods import AnswerCallbackQuery, GetUpdates, TelegramMethod
from aiogram.methods.base import Response, TelegramType

logger = logging.getLogger(__name__)

Sleep = Callable[[float], Awaitable[Any]]

# Calls whose repetition leaves the same state as one call: safe to retry whatever happened.
IDEMPOTENT_METHODS = frozenset(
    {
        "getMe",
        "getChat",
        "getChatMember",
        "getChatAdministrators",
        "getFile",
        "getMyCommands",
        "getWebhookInfo",
        "setMyCommands",
        "deleteMyCommands",
        "setWebhook",
        "deleteWebhook",
        "editMessageText",
        "editMessageCaption",
        "editMessageReplyMarkup",
        "editForumTopic",
        "closeForumTopic",
        "reopenForumTopic",
        "deleteMessage",
        "deleteForumTopic",
        "sendChatAction",
    }
)


_NEVER_RETRIED = frozenset({GetUpdates.__api_method__, AnswerCallbackQuery.__api_method__})


def _never_reached_telegram(error: TelegramNetworkError) -> bool:
    return isinstance(error.__cause__, aiohttp.ClientConnectorError)


class RequestRetryMiddleware(BaseRequestMiddleware):
    """Retry what Telegram did not perform (429, no connection); the rest only if idempotent."""

    def __init__(
        self,
        *,
        max_retries: int = 3,
        max_retry_after: float = 120.0,
        backoff: float = 0.5,
        sleep: Sleep = asyncio.sleep,
        on_retry: Callable[[str, str], None] | None = None,
    ) -> None:
        self.max_retries = max_retries
        self.max_retry_after = max_retry_after
        self.backoff = backoff
        self._sleep = sleep
        self._on_retry = on_retry

    async def __call__(
        self,
        make_request: NextRequestMiddlewareType[TelegramType],
        bot: Bot,
        method: TelegramMethod[TelegramType],
    ) -> Response[TelegramType]:
        # Long polling has its own backoff; a callback answer is worthless late.
        name = method.__api_method__
        if name in _NEVER_RETRIED:
            return await make_request(bot, method)
        attempt = 0
        while True:
            try:
                return await make_request(bot, method)
            except TelegramRetryAfter as error:
                if attempt >= self.max_retries or error.retry_after > self.max_retry_after:
                    raise
                delay = float(error.retry_after)
                reason = "flood control"
            except (TelegramServerError, TelegramNetworkError, ClientDecodeError) as error:
                safe = name in IDEMPOTENT_METHODS or (
                    isinstance(error, TelegramNetworkError) and _never_reached_telegram(error)
                )
                if not safe or attempt >= self.max_retries:
                    raise
                delay = self.backoff * 2**attempt
                reason = type(error).__name__
            attempt += 1
            logger.warning("%s: %s, retry %d in %.1fs", name, reason, attempt, delay)
            if self._on_retry is not None:
                self._on_retry(name, reason)
            await self._sleep(delay)
