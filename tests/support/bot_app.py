"""The whole bot wired for tests: real Dispatcher, SQL storage on a temp file, real backend client.

    async with make_bot_app(tmp_path, backend.url, clock=backend.clock) as app:
        teacher = app.teacher(100)
        await teacher.send("/start " + token)
        await app.restart()          # new Dispatcher and storage, same database

Telegram is FakeTelegram (tests/support/fake_telegram.py); the backend is whatever `backend_url`
points at (usually `services.linking.in_process.serve_backend`). `settings_overrides` go to
Settings.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from aiogram import Bot, Dispatcher
from aiogram.client.default import DefaultBotProperties
from aiogram.enums import ParseMode
from aiogram.fsm.storage.base import BaseStorage
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.app import Clock, build_dispatcher, create_storage
from bot.config import Settings
from bot.countdowns import CountdownTicker
from bot.guide_watcher import GuideWatcher
from bot.i18n import CatalogI18n, create_i18n
from bot.pictures import PictureSender
from bot.shared_state import SharedState
from services.linking_client import LinkingClient
from services.storage.db import create_all, create_engine, create_session_factory
from services.storage.guide_watches import GuideWatches
from services.storage.link_sessions import LinkSessionRepository
from services.storage.telegram_files import TelegramFileIds
from services.storage.write_behind import WriteBehind
from tests.support.fake_telegram import FakeTelegram, Person


def new_pictures(engine: AsyncEngine, clock: Clock) -> PictureSender:
    return PictureSender(TelegramFileIds(create_session_factory(engine), clock=clock.now))


async def _never(seconds: float) -> None:
    """Countdowns stand still unless a test drives them: no edit ever lands mid-test."""
    await asyncio.Event().wait()


class _WallClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


@dataclass
class BotApp:
    settings: Settings
    engine: AsyncEngine
    linking: LinkingClient
    sessions: LinkSessionRepository
    i18n: CatalogI18n
    telegram: FakeTelegram
    bot: Bot
    clock: Clock
    helpdesk: Any = None
    countdown_sleep: Any = None  # tests drive the moving countdowns (tests/support/manual_timer.py)
    pictures: PictureSender | None = None
    shared: SharedState | None = None
    storage: BaseStorage | None = None
    guide_autostart: bool = False  # guide mode's watcher: tests pump its rounds unless True
    guide_owner: str = "test-process"
    dp: Dispatcher = field(init=False)
    people: list[Person] = field(default_factory=list)

    def _build(self) -> None:
        storage, _isolation = create_storage(self.settings, self.engine, now=self.clock.now)
        self.storage = storage
        self.dp = build_dispatcher(
            self.settings,
            storage=storage,
            linking=self.linking,
            sessions=self.sessions,
            i18n=self.i18n,
            helpdesk=self.helpdesk,
            clock=self.clock,
            countdown_sleep=self.countdown_sleep,
            pictures=self.pictures,
            shared=self.shared,
            guide_leases=GuideWatches(create_session_factory(self.engine), owner=self.guide_owner),
            guide_autostart=self.guide_autostart,
        )

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
        """Simulate a bot restart: new Dispatcher and storage over the same database."""
        await self.countdowns.close()
        await self.guide.close()
        if self.storage is not None:
            await self.storage.close()
        await self.sessions.flush()  # what a stopping bot commits (build_runtime closes it)
        self.pictures = new_pictures(self.engine, self.clock)  # a new process remembers nothing
        self._build()
        for person in self.people:
            person.dp = self.dp

    async def close(self) -> None:
        await self.countdowns.close()
        await self.guide.close()
        if self.storage is not None:
            await self.storage.close()
        await self.sessions.close()


@contextlib.asynccontextmanager
async def make_bot_app(
    tmp_path: Path,
    backend_url: str,
    *,
    clock: Clock | None = None,
    helpdesk: Any = None,
    countdown_sleep: Any = None,
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

    `engine_options` go to `create_engine` (e.g. `sqlite_busy_timeout_ms`), `writer_options` to
    the sessions' `WriteBehind` (e.g. an injected `sleep`), `shared` to `build_dispatcher`.
    """
    values: dict[str, Any] = {
        "bot_token": "42:TEST",
        "linking_api_url": backend_url,
        "database_url": f"sqlite+aiosqlite:///{tmp_path / 'bot.sqlite3'}",
        "redis_url": None,
        **settings_overrides,
    }
    settings = Settings(_env_file=None, **values)  # type: ignore[call-arg]
    engine = create_engine(settings.database_url, **(engine_options or {}))
    with contextlib.suppress(ImportError):
        import services.storage.fsm_records  # noqa: F401  (registers the FSM table)
    await create_all(engine)
    the_clock = clock or _WallClock()
    linking = LinkingClient(
        backend_url, timeout=linking_timeout, retries=linking_retries, backoff=0
    )
    telegram = FakeTelegram()
    factory = create_session_factory(engine)
    bot = Bot("42:TEST", session=telegram, default=DefaultBotProperties(parse_mode=ParseMode.HTML))
    app = BotApp(
        settings=settings,
        engine=engine,
        linking=linking,
        sessions=LinkSessionRepository(
            factory,
            clock=the_clock.now,
            writer=WriteBehind(factory, **(writer_options or {})) if writer_options else None,
        ),
        i18n=create_i18n(settings.default_locale),
        telegram=telegram,
        bot=bot,
        clock=the_clock,
        helpdesk=helpdesk,
        countdown_sleep=countdown_sleep or _never,
        pictures=new_pictures(engine, the_clock),
        shared=shared,
        guide_autostart=guide_autostart,
    )
    app._build()
    try:
        yield app
    finally:
        await app.close()
        await linking.close()
        await engine.dispose()
