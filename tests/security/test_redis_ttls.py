"""Every Redis key the bot writes has a lifetime: the runtime production builds (REDIS_URL set)
walks a teacher through linking, a language change, a flood and a handoff to the helpdesk; after
each step every key under the bot's prefix must carry a TTL, and the kinds of keys seen are the
ones docs/security.md lists."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from redis.asyncio import Redis
from redis.exceptions import ConnectionError as RedisConnectionError

from services.linking.in_process import RunningBackend
from tests.bot.helpers import Demo
from tests.ops.harness import fake_telegram_runtime, runtime_settings
from tests.storage.conftest import REDIS_URL, _unavailable
from tests.support.fake_telegram import Person

pytestmark = pytest.mark.redis

GROUP = -1009100
TEACHER = 5300
WEEK = 7 * 24 * 3600


@pytest.fixture
async def redis() -> AsyncIterator[tuple[Redis, str]]:
    """A client and a key prefix unique to this test (its keys deleted afterwards)."""
    prefix = f"ttl-test-{uuid.uuid4().hex[:12]}"
    client = Redis.from_url(REDIS_URL, socket_connect_timeout=2)
    try:
        await client.ping()
    except (RedisConnectionError, OSError) as error:
        await client.aclose()
        _unavailable("Redis", error)
    yield client, prefix
    keys = [key async for key in client.scan_iter(match=f"{prefix}:*")]
    if keys:
        await client.delete(*keys)
    await client.aclose()


def family(key: str, prefix: str) -> str:
    """`<prefix>:42:locale:5300` → `locale`; `<prefix>:fsm:42:…:aiogd:stack::data` → `fsm`."""
    parts = key.removeprefix(prefix + ":").split(":")
    return "fsm" if parts[0] == "fsm" else parts[1]


async def test_every_key_the_bot_writes_in_redis_expires(
    tmp_path: Path, backend: RunningBackend, redis: tuple[Redis, str]
) -> None:
    client, prefix = redis
    settings = runtime_settings(
        tmp_path,
        backend.url,
        redis_url=REDIS_URL,
        redis_prefix=prefix,
        helpdesk_chat_id=GROUP,
    )
    families: set[str] = set()

    async def every_key_expires() -> None:
        keys = [key.decode() async for key in client.scan_iter(match=f"{prefix}:*")]
        assert keys
        for key in keys:
            ttl = await client.pttl(key)
            assert ttl > 0, f"{key} has no lifetime ({ttl})"
            if family(key, prefix) == "fsm":
                assert ttl <= WEEK * 1000  # DIALOG_RETENTION_DAYS, renewed by each write
            families.add(family(key, prefix))

    async with fake_telegram_runtime(settings) as (runtime, telegram):
        telegram.chat(GROUP, title="Поддержка", is_forum=True)
        teacher = Person(runtime.dp, runtime.bot, telegram, user_id=TEACHER)
        demo = await Demo.load(runtime.linking)

        await teacher.send("/start " + await demo.token("vkid_no_profile"))
        await teacher.click("Начнём")
        await every_key_expires()
        await teacher.click("VPN выключен, продолжить")
        await teacher.click("Нет")
        await teacher.send(demo["vkid_no_profile"].phone)
        await every_key_expires()

        await teacher.send("/language")
        await teacher.click("Русский")
        for number in range(25):  # a flood: counted and warned about
            await teacher.send(f"сообщение {number}")
        await every_key_expires()

        await teacher.click("Не получается")
        await teacher.click("Позвать специалиста")
        await every_key_expires()

    await every_key_expires()  # what a stopped bot leaves behind expires too
    # The kinds of keys docs/security.md lists («Bot», Redis): dialog records, the update
    # ledger, the language cache, flood control, helpdesk pacing, the retention job's gate.
    assert {"fsm", "update", "locale", "throttle", "pace", "once"} <= families, families
