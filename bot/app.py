"""Builds the bot: Bot, storage, Dispatcher with routers, dialogs and middlewares (no globals).

Dependencies reach handlers as dispatcher workflow data under these keys: `settings`, `linking`,
`sessions`, `i18n`, `helpdesk` (when given), `clock`, `bg_factory`, `admin_alerts`, `countdowns`
(the moving countdowns), `pictures` (when given: the step pictures).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from aiogram import Bot, Dispatcher
from aiogram.client.default import DefaultBotProperties
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.session.base import BaseSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.enums import ParseMode
from aiogram.fsm.storage.base import BaseEventIsolation, BaseStorage, DefaultKeyBuilder
from aiogram.types import BotCommand, BotCommandScopeChat, BotCommandScopeDefault
from aiogram_dialog import setup_dialogs
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.admin_alerts import AdminAlerts
from bot.config import Settings
from bot.countdowns import CountdownTicker, Sleep
from bot.delivery import Delivery, RealTime, TelegramTime, start_delivery
from bot.deps import Deps
from bot.dialog_ids import install_unique_dialog_ids
from bot.dialogs.all import get_dialogs
from bot.dialogs.forget import forget_after_render
from bot.dialogs.message_manager import ReplyFirstMessageManager
from bot.dialogs.steps import SECRET_STEPS
from bot.gc_tuning import settle_after_startup
from bot.guide_watcher import GuideWatcher
from bot.handlers import get_routers
from bot.handlers.errors import create_errors_router
from bot.handlers.fallback import FALLBACK_ROUTER_NAME
from bot.helpdesk.outbox import Outbox
from bot.helpdesk.relay import HelpdeskRelay
from bot.i18n import CatalogI18n, create_i18n
from bot.inline_filters import run_filters_inline
from bot.middlewares.dedup import UpdateDeduplicationMiddleware
from bot.middlewares.end_user import EndUserMiddleware
from bot.middlewares.i18n import UserLocaleMiddleware
from bot.middlewares.request_retry import RequestRetryMiddleware
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
from bot.retention import RetentionJob
from bot.routing import BotDispatcher, DialogSwitch
from bot.shared_state import SharedState, in_process
from bot.shared_state.once import RedisOncePerWindow
from services.clock import Clock, SystemClock
from services.linking_client import LinkingClient
from services.storage.db import create_all, create_engine, create_session_factory
from services.storage.guide_watches import GuideWatches
from services.storage.link_sessions import LinkSessionRepository
from services.storage.schema import require_head
from services.storage.telegram_files import TelegramFileIds
from services.storage.write_behind import WriteBehind

logger = logging.getLogger(__name__)


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
    settings: Settings, engine: AsyncEngine, *, now: Callable[[], datetime] | None = None
) -> tuple[BaseStorage, BaseEventIsolation | None]:
    """Redis (with cross-process event isolation) when REDIS_URL is set, else SQL on `engine`.

    Either way a dialog not written for `DIALOG_RETENTION_DAYS` goes: Redis records carry that
    TTL (renewed by each write), SQL rows are stamped with `now()` and pruned by bot/retention.py.
    """
    if settings.redis_url:
        from aiogram.fsm.storage.redis import RedisEventIsolation, RedisStorage

        # Under REDIS_PREFIX and the bot's id, like the bot's other keys: bots and deployments
        # sharing a Redis never mix.
        keys = key_builder(f"{settings.redis_prefix}:fsm", with_bot_id=True)
        lifetime = timedelta(days=settings.dialog_retention_days)
        storage = RedisStorage.from_url(
            settings.redis_url, key_builder=keys, state_ttl=lifetime, data_ttl=lifetime
        )
        isolation = RedisEventIsolation(
            storage.redis,
            key_builder=keys,
            lock_kwargs={"timeout": settings.event_lock_timeout},
        )
        return storage, isolation
    from services.storage.fsm import SQLStorage

    return SQLStorage(engine, key_builder=key_builder(), clock=now or SystemClock().now), None


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
    guide_leases: GuideWatches | None = None,
    guide_autostart: bool = True,
) -> Dispatcher:
    """The whole bot as a Dispatcher: fresh routers and dialogs each call.

    `shared` holds what updates share (de-duplication, locale cache, throttling, alert gate):
    this process's memory by default, Redis for replicas (bot/shared_state/).
    `countdown_sleep` replaces `asyncio.sleep` for the moving countdowns (tests drive time).
    `guide_leases` make guide mode's watcher one per flow across processes;
    `guide_autostart=False` leaves its rounds to the caller (tests pump them).
    """
    install_unique_dialog_ids()
    shared = shared or in_process()
    workflow: Deps = {  # what handlers read back through bot.deps.deps()
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
    dp = BotDispatcher(storage=storage, events_isolation=events_isolation, **workflow)
    if metrics is not None:
        dp["metrics"] = metrics  # the last-resort handler counts its answers
        metrics.hooks.alerts = workflow["admin_alerts"]

    # First, so that everything after them (repeats skipped by dedup too) is logged and counted.
    dp.update.outer_middleware(UpdateLogContext())
    if metrics is not None:
        dp.update.outer_middleware(UpdateMetricsMiddleware(metrics))
    # Outside the storage scope: an update is marked done only after its state is flushed.
    dedup = UpdateDeduplicationMiddleware(shared.ledger)
    dp.update.outer_middleware(dedup)
    dp["update_dedup"] = dedup
    if metrics is not None:
        metrics.hooks.dedup = dedup
    dp.update.outer_middleware(EndUserMiddleware())  # backend calls name the teacher
    if hasattr(storage, "scope"):
        dp.update.outer_middleware(StorageScopeMiddleware(storage))

    dp.include_router(create_errors_router())
    routers = get_routers()
    # Commands and the helpdesk before the dialogs (so /start and /language win mid-dialog),
    # the teacher fallback after them (it answers only what no dialog window took).
    for router in routers:
        if router.name != FALLBACK_ROUTER_NAME:
            dp.include_router(router)
    dp.include_router(DialogSwitch(get_dialogs()))  # straight to the context's dialog
    for router in routers:
        if router.name == FALLBACK_ROUTER_NAME:
            dp.include_router(router)

    dp["bg_factory"] = setup_dialogs(
        dp, events_isolation=events_isolation, message_manager=ReplyFirstMessageManager()
    )
    # Inside aiogram-dialog's context saver: a finished flow's window is rendered with her
    # details, then the contexts are saved without them (bot/dialogs/forget.py).
    dp.message.middleware(forget_after_render)
    dp.callback_query.middleware(forget_after_render)
    dp["countdowns"] = CountdownTicker(
        dp["bg_factory"], workflow["clock"], sleep=countdown_sleep or asyncio.sleep
    )
    guide = GuideWatcher(
        dp["bg_factory"], linking, workflow["clock"], guide_leases, autostart=guide_autostart
    )
    dp["guide"] = guide

    async def _resume_guides(bot: Bot) -> None:
        try:
            resumed = await guide.resume(bot)
        except Exception:  # guide mode resumes on her next update anyway
            logger.exception("guide watchers not resumed")
            return
        if resumed:
            logger.info("guide mode: following %d flows again", resumed)

    dp.startup.register(_resume_guides)
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
    run_filters_inline(dp)  # last: every router is included by now
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
    menus: list[
        tuple[dict[str, list[tuple[str, str]]], BotCommandScopeDefault | BotCommandScopeChat]
    ] = [(BOT_COMMANDS, BotCommandScopeDefault())]
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
    retention: RetentionJob


@contextlib.asynccontextmanager
async def build_runtime(
    settings: Settings,
    *,
    bot: Bot | None = None,
    linking: LinkingClient | None = None,
    clock: Clock | None = None,
    helpdesk: Any = None,
    create_tables: bool = False,
    engine_options: dict[str, Any] | None = None,
    writer_options: dict[str, Any] | None = None,
    shared: SharedState | None = None,
    telegram_time: TelegramTime | None = None,
    countdown_sleep: Sleep | None = None,
    guide_autostart: bool = True,
    retention_autostart: bool = True,
) -> AsyncIterator[Runtime]:
    """Engine, storage, client, Dispatcher and Bot, released on exit.

    The schema comes from `python -m bot migrate`; only the sandbox and tests pass
    `create_tables=True` (create_all on a fresh database). Without REDIS_URL the process then
    takes the database's single-replica lease, and refuses to start (`ReplicaConflict`) while
    another live process holds it (bot/replica_guard.py).

    The rest have production defaults; tests (tests/support/bot_app.py) inject through them:
    `bot` (e.g. on FakeTelegram), `linking`, `clock` and `helpdesk` (a relay made elsewhere is
    neither installed nor closed here) replace what would be built; `engine_options` go to
    `create_engine`, `writer_options` to the sessions' `WriteBehind`; `shared` replaces the
    shared state (bot/delivery.py); `telegram_time` is the clock and sleep of Telegram waits (the
    helpdesk outbox's pacing, retries after 429/5xx); `countdown_sleep` the moving countdowns'
    sleep; `guide_autostart=False` leaves guide mode's rounds to the caller and
    `retention_autostart=False` the retention job (`runtime.retention.run_once()`).
    """
    engine = create_engine(settings.database_url, **(engine_options or {}))
    try:
        await (create_all(engine) if create_tables else require_head(engine))
    except BaseException:
        await engine.dispose()
        raise
    the_clock = clock or SystemClock()
    waits = telegram_time or RealTime()
    storage, isolation = create_storage(settings, engine, now=the_clock.now)
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
    session_factory = create_session_factory(engine)
    # Tests' writer options: a writer made here is closed here (the repository closes only its own).
    writer = WriteBehind(session_factory, **writer_options) if writer_options else None
    sessions = LinkSessionRepository(session_factory, clock=the_clock.now, writer=writer)
    bot = bot or create_bot(settings)
    try:
        delivery = await start_delivery(
            settings, bot, session_factory, sessions, storage, shared=shared, telegram_time=waits
        )
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
            outbox=Outbox(budget=delivery.shared.pacing, sleep=waits.sleep),
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
        countdown_sleep=countdown_sleep,
        pictures=pictures,
        # One name per process: its leases are its own.
        guide_leases=GuideWatches(session_factory, owner=f"bot-{uuid.uuid4().hex}"),
        guide_autostart=guide_autostart,
    )
    if own_helpdesk:
        # The teachers' transcript for context cards, and the bot's replies in it.
        helpdesk.install_dispatcher(dp, secret_steps=SECRET_STEPS)
        helpdesk.install_session(bot)
    # Telegram 429 / 5xx retries on every Bot API call, whoever made the helpdesk.
    bot.session.middleware(RequestRetryMiddleware(sleep=waits.sleep))
    install_telegram_metrics(bot, metrics)
    export_runtime_gauges(metrics, sessions=sessions, helpdesk=helpdesk)
    health = Health(readiness_checks(engine, storage, linking))
    retention = retention_job(settings, session_factory, storage, the_clock, delivery, bot.id)
    metrics.hooks.commit = delivery.commit
    metrics.hooks.breaker = delivery.breaker
    metrics.hooks.retention = retention
    if retention_autostart:
        retention.start()
    try:
        yield Runtime(
            settings,
            engine,
            storage,
            linking,
            sessions,
            i18n,
            dp,
            bot,
            metrics,
            health,
            delivery,
            retention,
        )
    finally:
        try:
            await retention.close()
            await dp["countdowns"].close()
            await dp["guide"].close()
            await storage.close()
            # Write-behind stores: commit their queued rows before the engine goes.
            await sessions.close()
            if own_helpdesk:
                await helpdesk.transcript.close()
            if writer is not None:
                await writer.close()
            await delivery.close()
            if isolation is not None:
                await isolation.close()
            if own_linking:
                await linking.close()
            await bot.session.close()
        finally:
            await engine.dispose()


def retention_job(
    settings: Settings,
    session_factory: Any,
    storage: BaseStorage,
    clock: Clock,
    delivery: Delivery,
    bot_id: int,
) -> RetentionJob:
    """The job deleting expired personal data (bot/retention.py); one replica per interval."""
    redis = delivery.shared.redis
    gate = None
    if redis is not None:
        # Slightly shorter than the interval: the next turn of some replica always gets through.
        window = settings.retention_interval * 0.9
        gate = RedisOncePerWindow(redis, window, prefix=f"{settings.redis_prefix}:{bot_id}")
    return RetentionJob(
        session_factory,
        storage,
        clock.now,
        transcripts=timedelta(days=settings.transcript_retention_days),
        dialogs=timedelta(days=settings.dialog_retention_days),
        interval=settings.retention_interval,
        gate=gate,
    )


async def run_polling(settings: Settings, *, create_tables: bool = False) -> None:
    """Long polling against `settings.telegram_api_url`: an update is confirmed to Telegram only
    once handled and committed; SIGTERM/SIGINT finish the batch in hand (bot/polling.py)."""
    async with (
        build_runtime(settings, create_tables=create_tables) as runtime,
        serve_operations(settings.metrics_host, settings.metrics_port, runtime),
    ):
        await set_bot_commands(runtime.bot, helpdesk_chat_id=settings.helpdesk_chat_id)
        settle_after_startup()  # what start-up built lives as long as the process
        poller = UpdatePoller(
            runtime.dp,
            runtime.bot,
            commit=runtime.delivery.commit,
            allowed_updates=runtime.dp.resolve_used_update_types(),
        )
        runtime.metrics.hooks.poller = poller
        with stop_on_signals(poller.stop):
            await poller.run()
