"""Fixtures of the operations tests: a reachable Redis (skipped locally, required in CI)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from redis.asyncio import Redis
from redis.exceptions import ConnectionError as RedisConnectionError

from tests.storage.conftest import REDIS_URL, _unavailable


@pytest.fixture
async def redis_available() -> AsyncIterator[str]:
    """REDIS_URL once the local server answered PING."""
    redis = Redis.from_url(REDIS_URL, socket_connect_timeout=2)
    try:
        await redis.ping()
    except (RedisConnectionError, OSError) as error:
        _unavailable("Redis", error)
    finally:
        await redis.aclose()
    yield REDIS_URL
