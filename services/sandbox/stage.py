"""The sandbox's stage: demo backend, Bot API emulator and web UI, without the bot.

The bot side (bot/sandbox.py) starts a stage and runs the unmodified bot against it.
"""

from __future__ import annotations

import contextlib
import tempfile
from collections.abc import AsyncIterator
from dataclasses import dataclass

from aiohttp import web

from services.clock import SystemClock
from services.linking.in_process import serve_backend
from services.linking_client import LinkingClient
from services.sandbox.botapi import TelegramWorld, create_botapi_app
from services.sandbox.guard import warn_if_exposed
from services.sandbox.people import SANDBOX_BOT_TOKEN, Cast, populate
from services.sandbox.webapi import add_browser_routes


@dataclass
class Stage:
    """A running stage: its world, people, addresses, and a fresh directory for the bot."""

    world: TelegramWorld
    cast: Cast
    url: str
    backend_url: str
    bot_token: str
    state_dir: str


def _public_url(host: str, port: int) -> str:
    shown = "127.0.0.1" if host in {"0.0.0.0", "", "::"} else host
    return f"http://{shown}:{port}"


@contextlib.asynccontextmanager
async def start_stage(
    host: str, port: int, *, bot_token: str = SANDBOX_BOT_TOKEN
) -> AsyncIterator[Stage]:
    """Start the demo backend and the emulator with its page on `host:port`; stop both on exit.

    Port 0 picks a free port (tests); tests sharing a Redis give each stage its own `bot_token`
    (the bot id is part of every Redis key). The bot is not started here.
    """
    async with contextlib.AsyncExitStack() as stack:
        running = await stack.enter_async_context(serve_backend(demo=True, clock=SystemClock()))
        backend_url = running.url
        backend = LinkingClient(backend_url)
        stack.push_async_callback(backend.close)
        world = TelegramWorld(bot_token)
        cast = populate(world, await backend.dev_accounts())
        app = create_botapi_app(world)
        add_browser_routes(app, world, cast, backend, bind_host=host)
        # Short shutdown: open event streams and long polls must not hold Ctrl+C for a minute.
        runner = web.AppRunner(app, shutdown_timeout=1.0, access_log=None)
        await runner.setup()
        stack.push_async_callback(runner.cleanup)
        site = web.TCPSite(runner, host, port)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        url = _public_url(host, port)
        warn_if_exposed(host, url)
        state_dir = stack.enter_context(tempfile.TemporaryDirectory(prefix="sferum-sandbox-"))
        yield Stage(world, cast, url, backend_url, bot_token, state_dir)
