"""Fixtures of the attack suite: `api` is the honest teacher's HTTP view of the demo backend
(`backend` and `clock` come from tests/support/fixtures.py)."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator

import pytest
from hypothesis import HealthCheck, settings

from services.clock import FakeClock
from services.linking.in_process import RunningBackend
from tests.linking.http_api import Api, api_session


@pytest.fixture
async def api(backend: RunningBackend, clock: FakeClock) -> AsyncIterator[Api]:
    async with api_session(backend.url) as session:
        yield Api(session, clock)


# Hypothesis: a bounded, reproducible run in CI; `HYPOTHESIS_PROFILE=deep` explores far more.
settings.register_profile(
    "ci",
    max_examples=500,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.register_profile(
    "deep",
    max_examples=5000,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))
