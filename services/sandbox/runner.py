"""`python -m bot` without a token: backend, Bot API emulator, web UI and the bot in one process."""

from __future__ import annotations

import contextlib
import tempfile
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

from aiohttp import web
from pydantic import SecretStr

from services.linking_client import LinkingClient
from services.sandbox.botapi import TelegramWorld, create_botapi_app
from services.sandbox.guard import warn_if_exposed
from services.sandbox.people import SANDBOX_BOT_TOKEN, Cast, populate
from services.sandbox.webapi import add_browser_routes

if TYPE_CHECKING:
    from bot.config import Settings


@dataclass
class Sandbox:
    """A running sandbox: its world, people, addresses and the settings the bot must run with."""

    world: TelegramWorld
    cast: Cast
    url: str
    backend_url: str
    bot_settings: Settings


def _public_url(host: str, port: int) -> str:
    shown = "127.0.0.1" if host in {"0.0.0.0", "", "::"} else host
    return f"http://{shown}:{port}"


@contextlib.asynccontextmanager
async def start_sandbox(
    settings: Settings, *, bot_token: str = SANDBOX_BOT_TOKEN
) -> AsyncIterator[Sandbox]:
    """Start the demo backend and the emulator with its page; stop both on exit.

    `settings.sandbox_port` 0 picks a free port (tests); tests sharing a Redis give each sandbox
    its own `bot_token` (the bot id is part of every Redis key). The bot is not started here:
    run `bot.app.run_polling(sandbox.bot_settings)` to connect it.
    """
    # The simulation is only needed here, not by the bot in production.
    from services.linking.clock import SystemClock
    from services.linking.testing import serve_backend

    async with contextlib.AsyncExitStack() as stack:
        running = await stack.enter_async_context(serve_backend(demo=True, clock=SystemClock()))
        backend_url = running.url
        backend = LinkingClient(backend_url)
        stack.push_async_callback(backend.close)
        world = TelegramWorld(bot_token)
        cast = populate(world, await backend.dev_accounts())
        app = create_botapi_app(world)
        add_browser_routes(app, world, cast, backend, bind_host=settings.sandbox_host)
        # Short shutdown: open event streams and long polls must not hold Ctrl+C for a minute.
        runner = web.AppRunner(app, shutdown_timeout=1.0, access_log=None)
        await runner.setup()
        stack.push_async_callback(runner.cleanup)
        site = web.TCPSite(runner, settings.sandbox_host, settings.sandbox_port)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        url = _public_url(settings.sandbox_host, port)
        warn_if_exposed(settings.sandbox_host, url)
        state_dir = stack.enter_context(tempfile.TemporaryDirectory(prefix="sferum-sandbox-"))
        bot_settings = settings.model_copy(
            update={
                "bot_token": SecretStr(bot_token),
                "telegram_api_url": url,
                "linking_api_url": backend_url,
                "linking_api_key": None,
                "helpdesk_chat_id": cast.helpdesk_chat_id,
                # A fresh bot database each run: the emulated chats and demo data are fresh too.
                "database_url": f"sqlite+aiosqlite:///{state_dir}/bot.sqlite3",
                "redis_url": None,
                "mesh_journal_url": f"{url}/#mesh",
                "admin_ids": [operator["id"] for operator in cast.operators],
            }
        )
        yield Sandbox(world, cast, url, backend_url, bot_settings)


async def run_sandbox(settings: Settings) -> None:
    """Run the whole product locally until cancelled (Ctrl+C), printing the page's address."""
    from bot.app import run_polling

    async with start_sandbox(settings) as sandbox:
        print(f"Sferum sandbox is running: {sandbox.url}", flush=True)
        await run_polling(sandbox.bot_settings, create_tables=True)
