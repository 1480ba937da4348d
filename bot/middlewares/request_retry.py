"""Bot API calls that survive Telegram's flood control and brief outages.

A session request middleware: on 429 (`TelegramRetryAfter`) it waits the `retry_after` Telegram
asked for and repeats the call; on 5xx or a network error it retries with exponential backoff.
Both are bounded, so a persistent failure still reaches the caller as the original error.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from aiogram import Bot
from aiogram.client.session.middlewares.base import (
    BaseRequestMiddleware,
    NextRequestMiddlewareType,
)
from aiogram.exceptions import TelegramNetworkError, TelegramRetryAfter, TelegramServerError
from aiogram.methods import GetUpdates, TelegramMethod
from aiogram.methods.base import Response, TelegramType

logger = logging.getLogger(__name__)

Sleep = Callable[[float], Awaitable[Any]]


class RequestRetryMiddleware(BaseRequestMiddleware):
    """Retry 429 after the time Telegram names, and 5xx / network errors with backoff."""

    def __init__(
        self,
        *,
        max_retries: int = 3,
        max_retry_after: float = 120.0,
        backoff: float = 0.5,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self.max_retries = max_retries
        self.max_retry_after = max_retry_after
        self.backoff = backoff
        self._sleep = sleep

    async def __call__(
        self,
        make_request: NextRequestMiddlewareType[TelegramType],
        bot: Bot,
        method: TelegramMethod[TelegramType],
    ) -> Response[TelegramType]:
        if isinstance(method, GetUpdates):  # long polling has its own backoff
            return await make_request(bot, method)
        attempt = 0
        while True:
            try:
                return await make_request(bot, method)
            except TelegramRetryAfter as error:
                if attempt >= self.max_retries or error.retry_after > self.max_retry_after:
                    raise
                delay = float(error.retry_after)
                logger.warning("%s: flood control, retrying in %ss", method.__api_method__, delay)
            except (TelegramServerError, TelegramNetworkError) as error:
                if attempt >= self.max_retries:
                    raise
                delay = self.backoff * 2**attempt
                logger.warning(
                    "%s failed (%s), retrying in %ss", method.__api_method__, error, delay
                )
            attempt += 1
            await self._sleep(delay)
