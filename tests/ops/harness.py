"""The runtime `python -m bot` builds, on FakeTelegram and the demo backend, and updates as JSON."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from aiogram import BaseMiddleware, Bot
from aiogram.client.default import DefaultBotProperties
from aiogram.enums import ParseMode
from aiogram.types import Chat, Message, Update, User

from bot.app import Runtime, build_runtime
from bot.config import Settings
from tests.support.fake_telegram import FakeTelegram

SECRET = "Zq8-rV3_kP1xW7nT4yB6mH2jL9sD0fGcA5eUoIiRtY"  # token_urlsafe(32)-like
WEBHOOK_URL = "https://bot.example.org/tg"
_update_ids = itertools.count(1000)


def runtime_settings(tmp_path: Path, backend_url: str, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "bot_token": "42:TEST",
        "database_url": f"sqlite+aiosqlite:///{tmp_path / 'bot.sqlite3'}",
        "linking_api_url": backend_url,
        "linking_timeout": 5.0,
        "webhook_secret": SECRET,
        "webhook_host": "127.0.0.1",
        "webhook_port": 0,
        "redis_url": None,
        **overrides,
    }
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


@contextlib.asynccontextmanager
async def fake_telegram_runtime(
    settings: Settings,
) -> AsyncIterator[tuple[Runtime, FakeTelegram]]:
    """`build_runtime` as production runs it, with FakeTelegram behind the Bot."""
    telegram = FakeTelegram()
    bot = Bot("42:TEST", session=telegram, default=DefaultBotProperties(parse_mode=ParseMode.HTML))
    async with build_runtime(settings, bot=bot, create_tables=True) as runtime:
        yield runtime, telegram


def text_update(user_id: int, text: str, *, chat: Chat | None = None) -> dict[str, Any]:
    """A message update as Telegram posts it to a webhook (JSON field names, no nulls)."""
    user = User(id=user_id, is_bot=False, first_name="Мария", language_code="ru")
    message = Message(
        message_id=next(_update_ids),
        date=datetime.now(UTC),
        chat=chat or Chat(id=user_id, type="private", first_name="Мария"),
        from_user=user,
        text=text,
    )
    update = Update(update_id=next(_update_ids), message=message)
    return update.model_dump(mode="json", by_alias=True, exclude_none=True)


class Gate(BaseMiddleware):
    """Holds every update at the door until opened; tells when one is waiting there."""

    def __init__(self) -> None:
        self.entered = asyncio.Event()
        self._open = asyncio.Event()

    def open(self) -> None:
        self._open.set()

    async def __call__(
        self,
        handler: Callable[[Any, dict[str, Any]], Awaitable[Any]],
        event: Any,
        data: dict[str, Any],
    ) -> Any:
        self.entered.set()
        await self._open.wait()
        return await handler(event, data)
