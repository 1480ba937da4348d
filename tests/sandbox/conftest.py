"""Fixtures: a sandbox Telegram on a free loopback port and aiogram's real Bot pointed at it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest
from aiogram import Bot
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiohttp import web

from services.sandbox.botapi import TelegramWorld, create_botapi_app

TOKEN = "4242424242:sandbox-test-token"
TEACHER_ID = 1001
OTHER_TEACHER_ID = 1002
OPERATOR_ID = 9001
HELPDESK_ID = -1001234567890


@dataclass
class Emulator:
    world: TelegramWorld
    url: str
    app: web.Application


async def serve(app: web.Application) -> tuple[web.AppRunner, str]:
    runner = web.AppRunner(app, shutdown_timeout=0.5)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    return runner, f"http://127.0.0.1:{port}"


@pytest.fixture
def world() -> TelegramWorld:
    world = TelegramWorld(TOKEN)
    world.add_user(TEACHER_ID, "Мария", "Иванова", phone="+79161234567")
    world.add_user(OTHER_TEACHER_ID, "Ольга", "Смирнова", phone="+79167654321")
    world.add_user(OPERATOR_ID, "Анна", "Оператор", username="anna_support")
    world.add_forum_supergroup(HELPDESK_ID, "Поддержка", {OPERATOR_ID: "administrator"})
    return world


@pytest.fixture
async def emulator(world: TelegramWorld) -> AsyncIterator[Emulator]:
    app = create_botapi_app(world)
    runner, url = await serve(app)
    yield Emulator(world, url, app)
    await runner.cleanup()


@pytest.fixture
async def bot(emulator: Emulator) -> AsyncIterator[Bot]:
    session = AiohttpSession(api=TelegramAPIServer.from_base(emulator.url))
    bot = Bot(TOKEN, session=session)
    yield bot
    await session.close()


async def next_event(queue, predicate, within: float = 5.0) -> dict:
    """The first event from a world subscription that satisfies `predicate` (or fail)."""
    async with asyncio.timeout(within):
        while True:
            event = await queue.get()
            if predicate(event):
                return event
