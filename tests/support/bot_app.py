"""The whole bot for tests, built by production's `bot.app.build_runtime` on FakeTelegram.

    async with make_bot_app(tmp_path, backend.url, clock=backend.clock) as app:
        teacher = app.teacher(100)
        await teacher.send("/start " + token)
        await app.restart()          # the runtime closed, a new one on the same database

Telegram is FakeTelegram (tests/support/fake_telegram.py); the backend is whatever `backend_url`
points at (usually `services.linking.in_process.serve_backend`). `settings_overrides` go to
Settings. What differs from production is only what `build_runtime` lets a caller inject: the
Bot's session, the linking client (no retries, a generous timeout), the clock, simulated time for
Telegram waits, countdowns and guide rounds that tests drive, no retention job running by itself.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from aiogram import Bot, Dispatcher
from aiogram.client.default import DefaultBotProperties
from aiogram.enums import ParseMode
from aiogram.fsm.storage.base import BaseStorage
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.app import Clock, Runtime, build_runtime
from bot.config import Settings
from bot.countdowns import CountdownTicker
from bot.delivery import TelegramTime
from bot.guide_watcher import GuideWatcher
from bot.i18n import CatalogI18n
from bot.pictures import PictureSender
from bot.shared_state import SharedState
from services.linking_client import LinkingClient
from services.storage.link_sessions import LinkSessionRepository
from tests.support.fake_telegram import FakeTelegram, Person


async def _never(seconds: float) -> None:
    """Countdowns stand still unless a test drives them: no edit ever lands mid-test."""
    await asyncio.Event().wait()


class _WallClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


class BotApp:
    """One running bot (`runtime`) and the people talking to it; `restart()` replaces the
    runtime by a new one on the same database, FakeTelegram and backend."""

    def __init__(
        self,
        settings: Settings,
        telegram: FakeTelegram,
        linking: LinkingClient,
        clock: Clock,
        options: dict[str, Any],
    ) -> None:
        self.settings = settings
        self.telegram = telegram
        self.linking = linking
        self.clock = clock
        self._options = options
        self.people: list[Person] = []
        self._stack: contextlib.AsyncExitStack | None = None
        self.runtime: Runtime

    async def _start(self) -> None:
        # A new process: a new Bot, its session's middlewares installed afresh by the runtime.
        for middleware in list(self.telegram.middleware):
            self.telegram.middleware.unregister(middleware)
        bot = Bot(
            "42:TEST",
            session=self.telegram,
            default=DefaultBotProperties(parse_mode=ParseMode.HTML),
        )
        async with contextlib.AsyncExitStack() as stack:
            self.runtime = await stack.enter_async_context(
                build_runtime(
                    self.settings,
                    bot=bot,
                    linking=self.linking,
                    clock=self.clock,
                    create_tables=True,
                    **self._options,
                )
            )
            self._stack = stack.pop_all()
        for person in self.people:
            person.dp, person.bot = self.dp, self.bot

    async def _stop(self) -> None:
        if self._stack is not None:
            stack, self._stack = self._stack, None
            await stack.aclose()

    # --- the running bot's parts, as tests read them -----------------------------------------
    @property
    def dp(self) -> Dispatcher:
        return self.runtime.dp

    @property
    def bot(self) -> Bot:
        return self.runtime.bot

    @property
    def engine(self) -> AsyncEngine:
        return self.runtime.engine

    @property
    def storage(self) -> BaseStorage:
        return self.runtime.storage

    @property
    def sessions(self) -> LinkSessionRepository:
        return self.runtime.sessions

    @property
    def i18n(self) -> CatalogI18n:
        return self.runtime.i18n

    @property
    def helpdesk(self) -> Any:
        return self.dp["helpdesk"]

    @property
    def pictures(self) -> PictureSender:
        return self.dp["pictures"]

    @property
    def shared(self) -> SharedState:
        return self.runtime.delivery.shared

    @property
    def countdowns(self) -> CountdownTicker:
        return self.dp["countdowns"]

    @property
    def guide(self) -> GuideWatcher:
        return self.dp["guide"]

    def teacher(
        self,
        user_id: int,
        first_name: str = "Мария",
        language_code: str | None = "ru",
        **kwargs: Any,
    ) -> Person:
        """A person in a private chat with the bot."""
        person = Person(
            self.dp,
            self.bot,
            self.telegram,
            user_id=user_id,
            first_name=first_name,
            language_code=language_code,
            **kwargs,
        )
        self.people.append(person)
        return person

    async def restart(self) -> None:
        """A bot restart: this runtime stops as production's does (commits its write-behind,
        releases its lease), then a new one starts on the same database."""
        await self._stop()
        await self._start()


@contextlib.asynccontextmanager
async def make_bot_app(
    tmp_path: Path,
    backend_url: str,
    *,
    clock: Clock | None = None,
    countdown_sleep: Any = None,
    telegram_time: TelegramTime | None = None,
    linking_retries: int = 0,
    # Generous: a loaded machine is slow, and no test here is about the client's timeout.
    linking_timeout: float = 30.0,
    engine_options: dict[str, Any] | None = None,
    writer_options: dict[str, Any] | None = None,
    shared: SharedState | None = None,
    guide_autostart: bool = False,
    **settings_overrides: Any,
) -> AsyncIterator[BotApp]:
    """Build the bot against `backend_url`; everything is closed when the block ends.

    `countdown_sleep` drives the moving countdowns (they stand still by default), `telegram_time`
    the waits on Telegram (real by default); `engine_options`, `writer_options` and `shared`
    go to `build_runtime` (e.g. `sqlite_busy_timeout_ms`, an injected `sleep`).
    """
    values: dict[str, Any] = {
        "bot_token": "42:TEST",
        "linking_api_url": backend_url,
        "database_url": f"sqlite+aiosqlite:///{tmp_path / 'bot.sqlite3'}",
        "redis_url": None,
        **settings_overrides,
    }
    settings = Settings(_env_file=None, **values)  # type: ignore[call-arg]
    linking = LinkingClient(
        backend_url, timeout=linking_timeout, retries=linking_retries, backoff=0
    )
    options: dict[str, Any] = {
        "engine_options": engine_options,
        "writer_options": writer_options,
        "shared": shared,
        "telegram_time": telegram_time,
        "countdown_sleep": countdown_sleep or _never,
        "guide_autostart": guide_autostart,
        "retention_autostart": False,
    }
    app = BotApp(settings, FakeTelegram(), linking, clock or _WallClock(), options)
    try:
        await app._start()
        yield app
    finally:
        await app._stop()
        await linking.close()
