"""Fixtures: an HTTP client for the demo backend.

`clock` and `backend` come from tests/support/fixtures.py.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from services.clock import FakeClock
from services.linking.in_process import RunningBackend
from tests.linking.http_api import Api, api_session


@pytest.fixture
async def api(backend: RunningBackend, clock: FakeClock) -> AsyncIterator[Api]:
    async with api_session(backend.url) as session:
        yield Api(session, clock)
