"""Webhook mode: an aiohttp server that answers Telegram only after the update is handled.

Telegram counts an update as delivered when the webhook answers 2xx. The server therefore feeds
each update to the Dispatcher inside the request and answers only when handling (and the
storage scope's commit) is done; a process killed before that answers nothing, and Telegram
delivers the update again, to this replica or another one. aiogram's own SimpleRequestHandler is
not used: with `handle_in_background=False` it still answers after 55 s and moves the handler to
the background, which would acknowledge an update that is not handled yet.

Requests are refused unless they carry the secret token (WEBHOOK_SECRET) that `set-webhook` gave
Telegram: 401, before the body is even read. The replicas never call setWebhook themselves;
`python -m bot set-webhook` does it once per deployment, with the update types the Dispatcher
uses. SIGTERM drains: /readyz turns 503, new requests get 503 (Telegram retries them elsewhere),
the listening socket closes, the updates in flight finish (within SHUTDOWN_TIMEOUT), and the
runtime then flushes its write-behind queues and closes.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import json
import logging
import re
import signal
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from aiogram import Bot, Dispatcher
from aiogram.types import Update
from aiohttp import web
from pydantic import ValidationError

from bot.app import Runtime, build_runtime, set_bot_commands
from bot.config import Settings
from bot.gc_tuning import settle_after_startup
from bot.observability.health import Health
from bot.observability.routes import add_operations_routes

logger = logging.getLogger(__name__)

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
MIN_SECRET_LENGTH = 32
# Telegram accepts 1-256 characters of A-Z, a-z, 0-9, "_" and "-" as a secret token.
SECRET_PATTERN = re.compile(r"[A-Za-z0-9_-]{1,256}")
# A sanity check against "aaaa…" or "0123…", not a proof of randomness: token_urlsafe(32) gives
# 43 characters with ~31 distinct ones on average; fewer than 16 is a 1-in-10^9 event.
MIN_DISTINCT_CHARACTERS = 16
GENERATE_SECRET = 'python -c "import secrets; print(secrets.token_urlsafe(32))"'
DEFAULT_PATH = "/webhook"


class WebhookConfigError(RuntimeError):
    """Webhook mode cannot start with these settings; the message says how to fix them."""


def webhook_secret(settings: Settings) -> str:
    """WEBHOOK_SECRET, checked: at least 32 random URL-safe characters."""
    how = f"generate one with: {GENERATE_SECRET}"
    if settings.webhook_secret is None or not settings.webhook_secret.get_secret_value():
        raise WebhookConfigError(f"webhook mode needs WEBHOOK_SECRET; {how}")
    secret = settings.webhook_secret.get_secret_value()
    if not SECRET_PATTERN.fullmatch(secret):
        raise WebhookConfigError(
            f"WEBHOOK_SECRET may hold only A-Z, a-z, 0-9, '_' and '-' (Telegram's rule); {how}"
        )
    if len(secret) < MIN_SECRET_LENGTH:
        raise WebhookConfigError(
            f"WEBHOOK_SECRET is {len(secret)} characters, at least {MIN_SECRET_LENGTH} are "
            f"needed; {how}"
        )
    if len(set(secret)) < MIN_DISTINCT_CHARACTERS:
        raise WebhookConfigError(f"WEBHOOK_SECRET does not look random; {how}")
    return secret


def webhook_url(settings: Settings, url: str | None) -> str:
    """The public URL from the command line, else WEBHOOK_URL."""
    chosen = url or settings.webhook_url
    if not chosen:
        raise WebhookConfigError("webhook mode needs a URL: --webhook URL or WEBHOOK_URL")
    if urlsplit(chosen).scheme not in {"https", "http"}:
        raise WebhookConfigError(f"the webhook URL must be https://… (got {chosen!r})")
    return chosen


def webhook_path(url: str) -> str:
    """The path the server listens on: the public URL's (the proxy forwards it unchanged)."""
    return urlsplit(url).path or DEFAULT_PATH


class WebhookHandler:
    """POST handler: secret checked, update handled and committed, then answered; 503 while
    draining. `commit` makes the handled update's writes durable (bot/durability.py)."""

    def __init__(
        self,
        dp: Dispatcher,
        bot: Bot,
        secret: str,
        commit: Callable[[], Awaitable[Any]] | None = None,
    ) -> None:
        self.dp = dp
        self.bot = bot
        self._commit = commit
        self._secret = secret.encode()
        self.draining = False
        self._in_flight = 0
        self._idle = asyncio.Event()
        self._idle.set()

    async def handle(self, request: web.Request) -> web.Response:
        offered = request.headers.get(SECRET_HEADER, "").encode()
        if not hmac.compare_digest(offered, self._secret):
            logger.warning("webhook request without the right secret token refused")
            return web.Response(status=401, text="Unauthorized")
        if self.draining:
            return web.Response(status=503, text="shutting down", headers={"Retry-After": "1"})
        try:
            update = Update.model_validate(
                await request.json(loads=json.loads), context={"bot": self.bot}
            )
        except (ValueError, ValidationError):
            return web.Response(status=400, text="not a Telegram update")
        self._in_flight += 1
        self._idle.clear()
        try:
            await self.dp.feed_update(self.bot, update)
            if self._commit is not None:  # its write-behind rows too, before Telegram hears
                await self._commit()
        except Exception:
            logger.exception("update %d failed; Telegram will deliver it again", update.update_id)
            return web.Response(status=500, text="update failed")
        finally:
            self._in_flight -= 1
            if self._in_flight == 0:
                self._idle.set()
        return web.json_response({})

    async def drained(self) -> None:
        """Return when no update is being handled (the caller bounds the wait)."""
        await self._idle.wait()


def create_webhook_app(
    runtime: Runtime, path: str, secret: str
) -> tuple[web.Application, WebhookHandler]:
    """The webhook route plus /healthz, /readyz and /metrics, for a `bot.app.Runtime`."""
    app = web.Application()
    handler = WebhookHandler(runtime.dp, runtime.bot, secret, commit=runtime.delivery.commit)
    app.router.add_post(path, handler.handle)
    add_operations_routes(app, runtime.health, runtime.metrics)
    return app, handler


def stop_event_on_signals() -> asyncio.Event:
    """An event set by SIGTERM or SIGINT (docker stop, Ctrl+C)."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    return stop


@dataclass
class WebhookServer:
    """A listening webhook server: its port, and how to drain it."""

    port: int
    handler: WebhookHandler
    site: web.TCPSite
    health: Health

    async def stop_accepting(self) -> None:
        """Not ready any more; requests on open connections get 503; the socket closes."""
        self.health.draining = True
        self.handler.draining = True
        await self.site.stop()

    async def finish_in_flight(self, within: float) -> bool:
        """Wait for the updates being handled (False: `within` seconds ran out first)."""
        try:
            async with asyncio.timeout(within):
                await self.handler.drained()
        except TimeoutError:
            return False
        return True

    async def drain(self, within: float) -> bool:
        """Both, in order: what SIGTERM does."""
        await self.stop_accepting()
        return await self.finish_in_flight(within)


@contextlib.asynccontextmanager
async def webhook_server(runtime: Runtime, url: str) -> AsyncIterator[WebhookServer]:
    """Listen on WEBHOOK_HOST:WEBHOOK_PORT (0: a free port) until the block ends."""
    settings = runtime.settings
    path = webhook_path(url)
    app, handler = create_webhook_app(runtime, path, webhook_secret(settings))
    workflow = {"dispatcher": runtime.dp, "bots": [runtime.bot], **runtime.dp.workflow_data}
    await runtime.dp.emit_startup(bot=runtime.bot, **workflow)
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
    try:
        await runner.setup()
        site = web.TCPSite(runner, settings.webhook_host, settings.webhook_port)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        logger.info("webhook listening on %s:%d%s", settings.webhook_host, port, path)
        yield WebhookServer(port, handler, site, runtime.health)
    finally:
        await runner.cleanup()
        await runtime.dp.emit_shutdown(bot=runtime.bot, **workflow)


async def serve_webhook(runtime: Runtime, url: str, stop: asyncio.Event) -> None:
    """Serve until `stop` is set, then drain: refuse new updates, finish those in flight."""
    timeout = runtime.settings.shutdown_timeout
    async with webhook_server(runtime, url) as server:
        await stop.wait()
        logger.info("stopping: draining the updates in flight")
        if not await server.drain(timeout):
            logger.warning(
                "updates still in flight after %s s; Telegram will deliver them again", timeout
            )
    logger.info("webhook stopped")


async def set_webhook(
    runtime: Runtime, url: str, *, max_connections: int | None = None
) -> list[str]:
    """setWebhook once per deployment: URL, secret, and the update types the Dispatcher uses."""
    secret = webhook_secret(runtime.settings)
    allowed = runtime.dp.resolve_used_update_types()
    await runtime.bot.set_webhook(
        url,
        secret_token=secret,
        allowed_updates=allowed,
        max_connections=max_connections,
        drop_pending_updates=False,
    )
    logger.info("webhook set to %s for %s", url, ", ".join(allowed))
    return allowed


async def run_webhook(settings: Settings, url: str | None) -> None:
    """`python -m bot --webhook [URL]`: one replica, until SIGTERM."""
    url = webhook_url(settings, url)
    webhook_secret(settings)  # refuse before connecting to anything
    stop = stop_event_on_signals()
    async with build_runtime(settings) as runtime:
        settle_after_startup()  # what start-up built lives as long as the process
        await serve_webhook(runtime, url, stop)


async def run_set_webhook(settings: Settings, url: str | None) -> None:
    """`python -m bot set-webhook [URL]`: the webhook and the command menu, once per deployment."""
    url = webhook_url(settings, url)
    webhook_secret(settings)
    async with build_runtime(settings) as runtime:
        await set_bot_commands(runtime.bot, helpdesk_chat_id=settings.helpdesk_chat_id)
        await set_webhook(runtime, url)
