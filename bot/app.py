"""Builds the bot: Bot, storage, Dispatcher with routers, dialogs and middlewares (no globals).

Dependencies reach handlers as dispatcher workflow data under these keys: `settings`, `linking`,
`sessions`, `i18n`, `helpdesk` (when given), `clock`, `bg_factory`, `admin_alerts`, `countdowns`
(the moving countdowns), `pictures` (when given: the step pictures).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from aiogram import Bot, Dispatcher
from aiogram.client.default import DefaultBotProperties
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.session.base import BaseSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.enums import ParseMode
from aiogram.fsm.storage.base import BaseEventIsolation, BaseStorage, DefaultKeyBuilder
from aiogram.types import BotCommand, BotCommandScope, BotCommandScopeChat, BotCommandScopeDefault
from aiogram_dialog import setup_dialogs
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.admin_alerts import AdminAlerts
from bot.config import Settings
from bot.delivery import Delivery, start_delivery
from bot.dialog_ids import install_unique_dialog_ids
from bot.dialogs import get_dialogs
from bot.dialogs.steps import SECRET_STEPS
from bot.dialogs.ticker import CountdownTicker, Sleep
from bot.handlers import get_routers
from bot.handlers.errors import create_errors_router
from bot.handlers.fallback import FALLBACK_ROUTER_NAME
from bot.helpdesk.outbox import Outbox
from bot.helpdesk.relay import HelpdeskRelay
from bot.i18n import CatalogI18n, create_i18n
from bot.middlewares.dedup import UpdateDeduplicationMiddleware
from bot.middlewares.end_user import EndUserMiddleware
from bot.middlewares.i18n import UserLocaleMiddleware
from bot.middlewares.storage_scope import StorageScopeMiddleware
from bot.middlewares.throttling import ThrottlingMiddleware
from bot.observability.health import Health
from bot.observability.log_context import UpdateLogContext
from bot.observability.metrics import (
    BotMetrics,
    UpdateMetricsMiddleware,
    install_telegram_metrics,
)
from bot.observability.routes import serve_operations
from bot.observability.wiring import export_runtime_gauges, readiness_checks
from bot.pictures import PictureSender
from bot.polling import UpdatePoller, stop_on_signals
from bot.shared_state import SharedState, in_process
from services.linking_client import LinkingClient
from services.storage.db import create_all, create_engine, create_session_factory
from services.storage.link_sessions import LinkSessionRepository
from services.storage.schema import require_head
from services.storage.telegram_files import TelegramFileIds

logger = logging.getLogger(__name__)


class Clock(Protocol):
    def now(self) -> datetime: ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


def key_builder(prefix: str = "fsm", *, with_bot_id: bool = False) -> DefaultKeyBuilder:
    # aiogram-dialog keeps one record per dialog stack: the destiny must be part of the key.
    return DefaultKeyBuilder(prefix=prefix, with_destiny=True, with_bot_id=with_bot_id)


def create_bot(settings: Settings, *, session: BaseSession | None = None) -> Bot:
    """A Bot for `settings.telegram_api_url` (Telegram, a local Bot API server, the sandbox)."""
    if settings.bot_token is None:
        raise ValueError("BOT_TOKEN is not set")
    if session is None:
        session = AiohttpSession(api=TelegramAPIServer.from_base(settings.telegram_api_url))
    return Bot(
        settings.bot_token.get_secret_value(),
        session=session,
        default=DefaultBotProperties(parse_mode=ParseMode.HTML),
    )


def create_storage(
    settings: Settings, engine: AsyncEngine
) -> tuple[BaseStorage, BaseEventIsolation | None]:
    """Redis (with cross-process event isolation) when REDIS_URL is set, else SQL on `engine`."""
    if settings.redis_url:
        from aiogram.fsm.storage.redis import RedisEventIsolation, RedisStorage

        # Under REDIS_PREFIX and the bot's id, like the bot's other keys: bots and deployments
        # sharing a Redis never mix.
        keys = key_builder(f"{settings.redis_prefix}:fsm", with_bot_id=True)
        storage = RedisStorage.from_url(settings.redis_url, key_builder=keys)
        isolation = RedisEventIsolation(
            storage.redis,
            key_builder=keys,
            lock_kwargs={"timeout": settings.event_lock_timeout},
        )
        return storage, isolation
    from services.storage.fsm import SQLStorage

    return SQLStorage(engine, key_builder=key_builder()), None


def build_dispatcher(
    settings: Settings,
    *,
    storage: BaseStorage,
    linking: LinkingClient,
    sessions: LinkSessionRepository,
    i18n: CatalogI18n,
    helpdesk: Any = None,
    clock: Clock | None = None,
    events_isolation: BaseEventIsolation | None = None,
    metrics: BotMetrics | None = None,
    shared: SharedState | None = None,
    countdown_sleep: Sleep | None = None,
    pictures: PictureSender | None = None,
) -> Dispatcher:
    """The whole bot as a Dispatcher: fresh routers and dialogs each call.

    `shared` holds what updates share (de-duplication, locale cache, throttling, alert gate):
    this process's memory by default, Redis for replicas (bot/shared_state/).
    `countdown_sleep` replaces `asyncio.sleep` for the moving countdowns (tests drive time).
    """
    install_unique_dialog_ids()
    shared = shared or in_process()
    workflow: dict[str, Any] = {
        "settings": settings,
        "linking": linking,
        "sessions": sessions,
        "clock": clock or SystemClock(),
        "admin_alerts": AdminAlerts(
            settings.admin_ids, i18n, locale=settings.default_locale, gate=shared.alerts_gate
        ),
    }
    if helpdesk is not None:
        workflow["helpdesk"] = helpdesk
    if pictures is not None:
        workflow["pictures"] = pictures
    dp = Dispatcher(storage=storage, events_isolation=events_isolation, **workflow)

    # First, so that everything after them (repeats skipped by dedup too) is logged and counted.
    dp.update.outer_middleware(UpdateLogContext())
    if metrics is not None:
        dp.update.outer_middleware(UpdateMetricsMiddleware(metrics))
    # Outside the storage scope: an update is marked done only after its state is flushed.
    dedup = UpdateDeduplicationMiddleware(shared.ledger)
    dp.update.outer_middleware(dedup)
    dp["update_dedup"] = dedup
    dp.update.outer_middleware(EndUserMiddleware())  # backend calls name the teacher
    if hasattr(storage, "scope"):
        dp.update.outer_middleware(StorageScopeMiddleware(storage))  # type: ignore[arg-type]

    dp.include_router(create_errors_router())
    routers = get_routers()
    # Commands and the helpdesk before the dialogs (so /start and /language win mid-dialog),
    # the teacher fallback after them (it answers only what no dialog window took).
    for router in routers:
        if router.name != FALLBACK_ROUTER_NAME:
            dp.include_router(router)
    for dialog in get_dialogs():
        dp.include_router(dialog)
    for router in routers:
        if router.name == FALLBACK_ROUTER_NAME:
            dp.include_router(router)

    dp["bg_factory"] = setup_dialogs(dp, events_isolation=events_isolation)
    dp["countdowns"] = CountdownTicker(
        dp["bg_factory"], workflow["clock"], sleep=countdown_sleep or asyncio.sleep
    )
    # After setup_dialogs, so that aiogram-dialog's background-update observer exists and gets
    # the locale too.
    locale_middleware = UserLocaleMiddleware(i18n, sessions, shared.locale_cache)
    locale_middleware.setup(dp)
    dp["i18n"] = i18n
    dp["locale_middleware"] = locale_middleware
    # After the locale, so that its "slow down" answer is translated.
    throttling = ThrottlingMiddleware(store=shared.throttle)
    dp.message.outer_middleware(throttling)
    dp.callback_query.outer_middleware(throttling)
    return dp


BOT_COMMANDS: dict[str, list[tuple[str, str]]] = {
    "ru": [
        ("start", "Начать привязку"),
        ("help", "Помощь по текущему шагу"),
        ("language", "Язык / Language"),
    ],
    "en": [
        ("start", "Start linking"),
        ("help", "Help with the current step"),
        ("language", "Language / Язык"),
    ],
}


# The operators' menu, only in the helpdesk group (a chat scope wins over the default one there),
# so teachers never see /take or /close and operators never see /start.
OPERATOR_COMMANDS: dict[str, list[tuple[str, str]]] = {
    "ru": [
        ("take", "Взять обращение (в его теме)"),
        ("reply", "Ответить учителю: /reply текст или /reply #номер текст"),
        ("note", "Заметка для коллег: /note текст"),
        ("close", "Закрыть обращение"),
        ("queue", "Открытые обращения по времени ожидания"),
    ],
    "en": [
        ("take", "Take the ticket (in its topic)"),
        ("reply", "Answer the teacher: /reply text or /reply #number text"),
        ("note", "Note for colleagues: /note text"),
        ("close", "Close the ticket"),
        ("queue", "Open tickets by waiting time"),
    ],
}


async def set_bot_commands(bot: Bot, *, helpdesk_chat_id: int | None = None) -> None:
    """The command menus in both languages (Russian also as the default): teachers' everywhere,
    the operators' in the helpdesk group."""
    menus: list[tuple[dict[str, list[tuple[str, str]]], BotCommandScope]] = [
        (BOT_COMMANDS, BotCommandScopeDefault())
    ]
    if helpdesk_chat_id is not None:
        menus.append((OPERATOR_COMMANDS, BotCommandScopeChat(chat_id=helpdesk_chat_id)))
    for commands_by_language, scope in menus:
        for language, commands in commands_by_language.items():
            menu = [BotCommand(command=c, description=d) for c, d in commands]
            await bot.set_my_commands(menu, scope=scope, language_code=language)
        default = [BotCommand(command=c, description=d) for c, d in commands_by_language["ru"]]
        await bot.set_my_commands(default, scope=scope)


@dataclass
class Runtime:
    """Everything a running bot holds; closed by `build_runtime`'s context.

    `delivery.commit()` makes the writes of every update handled so far durable (retrying while
    the database is away): call it before telling Telegram an update is handled (the polling
    loop does; a webhook answers after it). `delivery.shared`, `delivery.breaker` and
    `sessions.writer` expose the counters a metrics endpoint reads (bot/delivery.py).
    """

    settings: Settings
    engine: AsyncEngine
    storage: BaseStorage
    linking: LinkingClient
    sessions: LinkSessionRepository
    i18n: CatalogI18n
    dp: Dispatcher
    bot: Bot
    metrics: BotMetrics
    health: Health
    delivery: Delivery


@contextlib.asynccontextmanager
async def build_runtime(
    settings: Settings,
    *,
    bot: Bot | None = None,
    linking: LinkingClient | None = None,
    clock: Clock | None = None,
    helpdesk: Any = None,
    create_tables: bool = False,
) -> AsyncIterator[Runtime]:
    """Engine, storage, client, Dispatcher and Bot, released on exit.

    The schema comes from `python -m bot migrate`; only the sandbox and tests pass
    `create_tables=True` (create_all on a fresh database). Without REDIS_URL the process then
    takes the database's single-replica lease, and refuses to start (`ReplicaConflict`) while
    another live process holds it (bot/replica_guard.py).
    """
    engine = create_engine(settings.database_url)
    try:
        await (create_all(engine) if create_tables else require_head(engine))
    except BaseException:
        await engine.dispose()
        raise
    storage, isolation = create_storage(settings, engine)
    metrics = BotMetrics()
    own_linking = linking is None
    if linking is None:
        api_key = settings.linking_api_key.get_secret_value() if settings.linking_api_key else None
        linking = LinkingClient(
            settings.linking_api_url,
            api_key=api_key,
            timeout=settings.linking_timeout,
            observer=metrics.observe_backend_call,
        )
    the_clock = clock or SystemClock()
    session_factory = create_session_factory(engine)
    sessions = LinkSessionRepository(session_factory, clock=the_clock.now)
    bot = bot or create_bot(settings)
    try:
        delivery = await start_delivery(settings, bot, session_factory, sessions, storage)
    except BaseException:  # e.g. ReplicaConflict: another live process holds the database
        await bot.session.close()
        await engine.dispose()
        raise
    i18n = create_i18n(settings.default_locale)
    pictures = PictureSender(TelegramFileIds(session_factory, clock=the_clock.now))
    own_helpdesk = helpdesk is None
    if own_helpdesk:
        helpdesk = HelpdeskRelay.create(
            settings,
            session_factory,
            sessions,
            i18n,
            clock=the_clock.now,
            outbox=Outbox(budget=delivery.shared.pacing),
        )
    dp = build_dispatcher(
        settings,
        storage=storage,
        linking=delivery.guard(linking),
        sessions=sessions,
        i18n=i18n,
        helpdesk=helpdesk,
        clock=the_clock,
        events_isolation=isolation,
        metrics=metrics,
        shared=delivery.shared,
        pictures=pictures,
    )
    if own_helpdesk:
        # The teachers' transcript for context cards, the bot's replies in it, and Telegram
        # 429 / 5xx retries on every Bot API call (installed even without a helpdesk chat).
        helpdesk.install_dispatcher(dp, secret_steps=SECRET_STEPS)
        helpdesk.install_session(bot)
    install_telegram_metrics(bot, metrics)
    export_runtime_gauges(metrics, sessions=sessions, helpdesk=helpdesk)
    health = Health(readiness_checks(engine, storage, linking))
    try:
        yield Runtime(
            settings, engine, storage, linking, sessions, i18n, dp, bot, metrics, health, delivery
        )
    finally:
        try:
            await dp["countdowns"].close()
            await storage.close()
            # Write-behind stores: commit their queued rows before the engine goes.
            await sessions.close()
            if own_helpdesk:
                await helpdesk.transcript.close()
            await delivery.close()
            if isolation is not None:
                await isolation.close()
            if own_linking:
                await linking.close()
            await bot.session.close()
        finally:
            await engine.dispose()


async def run_polling(settings: Settings, *, create_tables: bool = False) -> None:
    """Long polling against `settings.telegram_api_url`: an update is confirmed to Telegram only
    once handled and committed; SIGTERM/SIGINT finish the batch in hand (bot/polling.py)."""
    async with (
        build_runtime(settings, create_tables=create_tables) as runtime,
        serve_operations(settings.metrics_host, settings.metrics_port, runtime),
    ):
        await set_bot_commands(runtime.bot, helpdesk_chat_id=settings.helpdesk_chat_id)
        poller = UpdatePoller(
            runtime.dp,
            runtime.bot,
            commit=runtime.delivery.commit,
            allowed_updates=runtime.dp.resolve_used_update_types(),
        )
        with stop_on_signals(poller.stop):
            await poller.run()
