"""The bot with a helpdesk chat, for the «позовите человека» cases; the rest is shared
(tests/support/fixtures.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from services.clock import FakeClock
from services.linking.testing import RunningBackend
from tests.helpdesk.harness import HelpdeskApp, helpdesk_app


@pytest.fixture
async def hd(
    tmp_path: Path, backend: RunningBackend, clock: FakeClock
) -> AsyncIterator[HelpdeskApp]:
    async with helpdesk_app(tmp_path, backend.url, clock=clock) as with_helpdesk:
        yield with_helpdesk
