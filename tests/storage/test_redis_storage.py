"""The multi-replica configuration: aiogram's RedisStorage with destiny keys, as dialogs need."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest
from aiogram.fsm.storage.base import DefaultKeyBuilder, StorageKey
from aiogram.fsm.storage.redis import RedisStorage
from redis.asyncio import Redis
from redis.exceptions import ConnectionError as RedisConnectionError

from tests.storage.conftest import REDIS_URL, _unavailable

pytestmark = pytest.mark.redis

BOT_ID = 4242
TEACHER = StorageKey(bot_id=BOT_ID, chat_id=100, user_id=100)
STACK = StorageKey(bot_id=BOT_ID, chat_id=100, user_id=100, destiny="aiogd:stack:")


@pytest.fixture
async def prefix() -> AsyncIterator[str]:
    """A key prefix unique to this test; its keys are deleted afterwards."""
    prefix = f"fsm-test-{uuid.uuid4().hex[:12]}"
    redis = Redis.from_url(REDIS_URL, socket_connect_timeout=2)
    try:
        await redis.ping()
    except (RedisConnectionError, OSError) as error:
        await redis.aclose()
        _unavailable("Redis", error)
    yield prefix
    keys = [key async for key in redis.scan_iter(match=f"{prefix}:*")]
    if keys:
        await redis.delete(*keys)
    await redis.aclose()


def open_storage(prefix: str) -> RedisStorage:
    return RedisStorage.from_url(
        REDIS_URL, key_builder=DefaultKeyBuilder(prefix=prefix, with_destiny=True, with_bot_id=True)
    )


async def test_dialog_records_live_in_redis_across_replicas(prefix: str) -> None:
    replica_a, replica_b = open_storage(prefix), open_storage(prefix)
    try:
        await replica_a.set_state(TEACHER, "Link:code")
        await replica_a.set_data(STACK, {"intents": ["x1"], "last_message_id": 7})
        await replica_a.update_data(TEACHER, {"flow_id": "f-1"})

        assert await replica_b.get_state(TEACHER) == "Link:code"
        assert await replica_b.get_data(STACK) == {"intents": ["x1"], "last_message_id": 7}
        assert await replica_b.get_data(TEACHER) == {"flow_id": "f-1"}
        assert await replica_b.get_state(STACK) is None  # destinies are separate records

        await replica_b.set_data(STACK, {})
        await replica_b.set_state(TEACHER, None)
        assert await replica_a.get_data(STACK) == {}
        assert await replica_a.get_state(TEACHER) is None
    finally:
        await replica_a.close()
        await replica_b.close()
