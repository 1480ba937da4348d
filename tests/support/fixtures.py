"""Shared fixtures (registered in tests/conftest.py): the demo backend and the whole bot on it.

`clock` is the FakeClock both the backend and the bot read; `backend` serves the demo backend on
loopback; `app` is the bot wired to it (tests/support/bot_app.py); `demo` reads the backend's demo
teachers and their codes (tests/bot/helpers.py); `hd` is the bot with a helpdesk chat, a forum
(tests/helpdesk/harness.py), `hd_without_topics` the same in a supergroup without topics;
`postgres_url` is a throwaway PostgreSQL database (tests/support/postgres.py).
A folder's own conftest.py may override any of them by name.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from services.clock import FakeClock
from services.linking.in_process import RunningBackend, serve_backend
from services.linking_client import LinkingClient
from tests.bot.helpers import Demo
from tests.helpdesk.harness import HelpdeskApp, helpdesk_app
from tests.support.bot_app import BotApp, make_bot_app
from tests.support.postgres import postgres_url

__all__ = ["app", "backend", "clock", "demo", "hd", "hd_without_topics", "postgres_url"]


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
async def backend(clock: FakeClock) -> AsyncIterator[RunningBackend]:
    async with serve_backend(demo=True, clock=clock) as running:
        yield running


@pytest.fixture
async def app(tmp_path: Path, backend: RunningBackend, clock: FakeClock) -> AsyncIterator[BotApp]:
    async with make_bot_app(tmp_path, backend.url, clock=clock) as bot_app:
        yield bot_app


@pytest.fixture
async def demo(backend: RunningBackend) -> AsyncIterator[Demo]:
    # Its own client on the backend, so a test with `hd` (or its own bot) builds no second bot.
    async with LinkingClient(backend.url, timeout=30.0, retries=0, backoff=0) as client:
        yield await Demo.load(client)


@pytest.fixture
async def hd(
    tmp_path: Path, backend: RunningBackend, clock: FakeClock
) -> AsyncIterator[HelpdeskApp]:
    async with helpdesk_app(tmp_path, backend.url, clock=clock) as with_helpdesk:
        yield with_helpdesk


@pytest.fixture
async def hd_without_topics(
    tmp_path: Path, backend: RunningBackend, clock: FakeClock
) -> AsyncIterator[HelpdeskApp]:
    """`hd` whose helpdesk chat is a supergroup without topics (Telegram refuses to make one)."""
    async with helpdesk_app(tmp_path, backend.url, clock=clock, forum=False) as with_helpdesk:
        yield with_helpdesk
