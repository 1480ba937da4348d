"""Fixtures: a demo backend served over loopback HTTP with a FakeClock, and a client for it."""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import pytest

from services.linking.clock import FakeClock
from services.linking.testing import RunningBackend, serve_backend
from tests.linking.http_api import Api


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
async def backend(clock: FakeClock) -> AsyncIterator[RunningBackend]:
    async with serve_backend(demo=True, clock=clock) as running:
        yield running


@pytest.fixture
async def api(backend: RunningBackend, clock: FakeClock) -> AsyncIterator[Api]:
    async with aiohttp.ClientSession(backend.url) as session:
        yield Api(session, clock)
