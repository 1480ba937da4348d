"""Prometheus metrics of one bot process, on a registry of its own (no module globals).

Counters and histograms are per process (Prometheus sums the replicas); the gauges read from the
shared database (open tickets, teachers linked per scenario) are the same on every replica: take
their `max`, not their sum. Those are refreshed when /metrics is scraped, not on a timer.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from contextvars import ContextVar
from typing import Any

from aiogram import BaseMiddleware, Bot
from aiogram.client.session.middlewares.base import (
    BaseRequestMiddleware,
    NextRequestMiddlewareType,
)
from aiogram.dispatcher.event.bases import UNHANDLED
from aiogram.exceptions import (
    TelegramAPIError,
    TelegramBadRequest,
    TelegramForbiddenError,
    TelegramNetworkError,
    TelegramRetryAfter,
    TelegramServerError,
)
from aiogram.methods import GetUpdates, TelegramMethod
from aiogram.methods.base import Response, TelegramType
from aiogram.types import TelegramObject, Update
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from bot.observability.hooks import DeliveryCollector

logger = logging.getLogger(__name__)

PREFIX = "sferum_bot"
# Handler latency: a window is ~5 ms of bot CPU, a backend step adds its HTTP round trip.
UPDATE_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
BACKEND_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
REFRESH_TIMEOUT = 5.0

Refresher = Callable[[], Awaitable[None]]


class _Children:
    """A metric's labelled children, looked up once per label values.

    `metric.labels(...)` validates the values and takes the metric's lock on every call (~4× a
    dictionary look-up); the hot paths (every update, every Bot API call) ask for a handful of
    label combinations over and over. prometheus_client keeps each child for the metric's life
    (nothing here removes one), so the cached child is the one `labels` would return.
    """

    __slots__ = ("_children", "_metric")

    def __init__(self, metric: Any) -> None:
        self._metric = metric
        self._children: dict[tuple[str, ...], Any] = {}

    def __call__(self, *values: str) -> Any:
        child = self._children.get(values)
        if child is None:
            child = self._children[values] = self._metric.labels(*values)
        return child


class BotMetrics:
    """Every metric the bot exports; `render()` is the body of GET /metrics."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.updates = Counter(
            f"{PREFIX}_updates_total",
            "Telegram updates by type and outcome (handled, unhandled, error)",
            ["type", "outcome"],
            registry=r,
        )
        self.update_seconds = Histogram(
            f"{PREFIX}_update_handling_seconds",
            "Time to handle one update, middlewares included",
            ["type"],
            buckets=UPDATE_BUCKETS,
            registry=r,
        )
        self.backend_calls = Counter(
            f"{PREFIX}_backend_calls_total",
            "Linking backend HTTP attempts by endpoint and outcome (ok or the error code)",
            ["endpoint", "outcome"],
            registry=r,
        )
        self.backend_seconds = Histogram(
            f"{PREFIX}_backend_call_seconds",
            "Linking backend HTTP attempt duration",
            ["endpoint"],
            buckets=BACKEND_BUCKETS,
            registry=r,
        )
        self.telegram_requests = Counter(
            f"{PREFIX}_telegram_requests_total",
            "Bot API attempts by method and outcome (ok or the error kind), retries included",
            ["method", "outcome"],
            registry=r,
        )
        self.telegram_retries = Counter(
            f"{PREFIX}_telegram_retries_total",
            "Bot API calls repeated after a 429, 5xx or network error",
            ["method"],
            registry=r,
        )
        self.open_tickets = Gauge(
            f"{PREFIX}_helpdesk_open_tickets", "Helpdesk tickets open now", registry=r
        )
        self.write_behind_pending = Gauge(
            f"{PREFIX}_write_behind_pending",
            "Writes queued in memory and not yet taken by a database batch",
            ["writer"],
            registry=r,
        )
        self.linked = Gauge(
            f"{PREFIX}_linked_teachers",
            "Teachers whose account was linked, by scenario (all time, from the database)",
            ["scenario"],
            registry=r,
        )
        self.last_resort = Counter(
            f"{PREFIX}_last_resort_answers_total",
            "Updates that failed unexpectedly and got «Что-то пошло не так» with a retry button",
            ["type"],
            registry=r,
        )
        # De-duplication, write-behind, commits, breaker, alerts, outbox, polling, retention.
        self.hooks = DeliveryCollector()
        r.register(self.hooks)
        self._refreshers: list[Refresher] = []

    # --- wiring ---------------------------------------------------------------------------------

    def observe_backend_call(self, endpoint: str, outcome: str, seconds: float) -> None:
        """The LinkingClient's observer (services never import bot/, so it is handed this)."""
        self.backend_calls.labels(endpoint, outcome).inc()
        self.backend_seconds.labels(endpoint).observe(seconds)

    def watch_queue(self, writer: str, pending: Callable[[], int]) -> None:
        """Export a write-behind queue's depth, read at scrape time."""
        self.write_behind_pending.labels(writer).set_function(pending)

    def add_refresher(self, refresher: Refresher) -> None:
        """An async reader run before each scrape (database-backed gauges)."""
        self._refreshers.append(refresher)

    async def render(self) -> bytes:
        """Refresh the database gauges (a failing reader keeps the last value), then export."""
        for refresher in self._refreshers:
            try:
                await asyncio.wait_for(refresher(), REFRESH_TIMEOUT)
            except Exception:
                logger.warning("metrics: %s failed", refresher, exc_info=True)
        return generate_latest(self.registry)


class UpdateMetricsMiddleware(BaseMiddleware):
    """Outer update middleware: counts each Telegram update by type and outcome, times it."""

    def __init__(self, metrics: BotMetrics) -> None:
        self.metrics = metrics
        self._seconds = _Children(metrics.update_seconds)
        self._updates = _Children(metrics.updates)

    async def __call__(
        self,
        handler: Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]],
        event: TelegramObject,
        data: dict[str, Any],
    ) -> Any:
        if type(event) is not Update:  # aiogram-dialog's background updates are internal
            return await handler(event, data)
        kind = event.event_type
        started = time.perf_counter()
        outcome = "error"
        try:
            result = await handler(event, data)
            outcome = "unhandled" if result is UNHANDLED else "handled"
            return result
        finally:
            self._seconds(kind).observe(time.perf_counter() - started)
            self._updates(kind, outcome).inc()


def telegram_outcome(error: BaseException | None) -> str:
    """A small, fixed set of labels for Bot API failures."""
    if error is None:
        return "ok"
    for kind, name in (
        (TelegramRetryAfter, "retry_after"),
        (TelegramServerError, "server_error"),
        (TelegramNetworkError, "network_error"),
        (TelegramBadRequest, "bad_request"),
        (TelegramForbiddenError, "forbidden"),
        (TelegramAPIError, "api_error"),
    ):
        if isinstance(error, kind):
            return name
    return "other"


_attempts: ContextVar[list[int] | None] = ContextVar("telegram_attempts", default=None)


class _TelegramCall(BaseRequestMiddleware):
    """Outermost: one Bot API call, however many attempts the retry middleware makes of it."""

    def __init__(self, metrics: BotMetrics) -> None:
        self.metrics = metrics
        self._retries = _Children(metrics.telegram_retries)

    async def __call__(
        self,
        make_request: NextRequestMiddlewareType[TelegramType],
        bot: Bot,
        method: TelegramMethod[TelegramType],
    ) -> Response[TelegramType]:
        attempts = [0]
        token = _attempts.set(attempts)
        try:
            return await make_request(bot, method)
        finally:
            _attempts.reset(token)
            if attempts[0] > 1:
                self._retries(method.__api_method__).inc(attempts[0] - 1)


class _TelegramAttempt(BaseRequestMiddleware):
    """Innermost: every attempt that reaches the network, with its outcome."""

    def __init__(self, metrics: BotMetrics) -> None:
        self.metrics = metrics
        self._requests = _Children(metrics.telegram_requests)

    async def __call__(
        self,
        make_request: NextRequestMiddlewareType[TelegramType],
        bot: Bot,
        method: TelegramMethod[TelegramType],
    ) -> Response[TelegramType]:
        attempts = _attempts.get()
        if attempts is not None:
            attempts[0] += 1
        error: BaseException | None = None
        try:
            return await make_request(bot, method)
        except Exception as exc:
            error = exc
            raise
        finally:
            if not isinstance(method, GetUpdates) or error is not None:
                outcome = telegram_outcome(error)
                self._requests(method.__api_method__, outcome).inc()


def install_telegram_metrics(bot: Bot, metrics: BotMetrics) -> None:
    """Wrap the session's middlewares (retry among them): one outermost, one innermost."""
    existing = list(bot.session.middleware)
    for middleware in existing:
        bot.session.middleware.unregister(middleware)
    bot.session.middleware(_TelegramCall(metrics))
    for middleware in existing:
        bot.session.middleware(middleware)
    bot.session.middleware(_TelegramAttempt(metrics))
