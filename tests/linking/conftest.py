"""Fixtures: an HTTP client for the demo backend.

`clock` and `backend` come from tests/support/fixtures.py.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import pytest

from services.linking.clock import FakeClock
from services.linking.testing import RunningBackend
from tests.linking.http_api import Api


@pytest.fixture
async def api(backend: RunningBackend, clock: FakeClock) -> AsyncIterator[Api]:
    async with aiohttp.ClientSession(backend.url) as session:
        yield Api(session, clock)
