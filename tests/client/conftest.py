"""Fixtures for the linking client's tests."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack

import pytest

from tests.client.stub_server import Handler, StartStub, Stub, serve_stub


@pytest.fixture
async def start_stub() -> AsyncIterator[StartStub]:
    """Start stub servers for one test; all are shut down after it."""
    async with AsyncExitStack() as stack:

        async def start(handler: Handler) -> Stub:
            return await stack.enter_async_context(serve_stub(handler))

        yield start
