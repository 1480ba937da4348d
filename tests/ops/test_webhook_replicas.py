"""Production for real: two webhook replicas on PostgreSQL + Redis behind a load balancer.

The sandbox's Telegram delivers to the replicas (`python -m bot --webhook` processes, set up by
`python -m bot migrate` and `python -m bot set-webhook`, the commands compose.yaml runs), each
chat's updates alternating between them. Teachers act through the sandbox page's API; a person
reads the screen before tapping, which here means: every update so far is acknowledged.
"""

from __future__ import annotations

import asyncio
import random
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import pytest
from redis.asyncio import Redis

from bot.config import Settings
from bot.sandbox import start_sandbox
from tests.ops.replicas import (
    MIGRATE,
    PROBE_MODULE,
    SET_WEBHOOK,
    Replica,
    replicas,
    run_command,
    settings_env,
    start_replica,
)
from tests.sandbox.live import Live, TeacherDriver, text_of
from tests.sandbox.walks import link_existing_profile, link_new_profile
from tests.storage.conftest import (
    POSTGRES_URL_TEMPLATE,
    REDIS_URL,
    create_postgres_database,
    drop_postgres_database,
)

pytestmark = [pytest.mark.postgres, pytest.mark.redis]

SECRET = "rZ4_wQ9-nB2xK7mV5tY1hJ8pL3sD6fGcA0eUoIiXyT"
PUBLIC_URL = "https://bot.example.org/tg"


class WebhookLive(Live):
    """Live, with "the bot is idle" meaning: Telegram has no update waiting for an answer."""

    async def bot_idle(self) -> None:
        await self.wait(
            lambda: True if self.world.updates.pending_count == 0 else None,
            "every update to be acknowledged by a replica",
        )


@dataclass
class Deployment:
    live: WebhookLive
    replicas: list[Replica]
    env: dict[str, str]
    cwd: Path

    @property
    def world(self):  # type: ignore[no-untyped-def]
        return self.live.world

    def route_to(self, replicas: list[Replica]) -> None:
        self.world.webhook_targets = [r.url for r in replicas]


@pytest.fixture
def postgres_url() -> Iterator[str]:
    name = create_postgres_database("webhook_replicas")
    try:
        yield POSTGRES_URL_TEMPLATE.format(database=name)
    finally:
        drop_postgres_database(name)


async def forget_redis_keys(bot_id: int) -> None:
    redis = Redis.from_url(REDIS_URL)
    try:
        keys = [key async for key in redis.scan_iter(match=f"*:{bot_id}:*")]
        if keys:
            await redis.delete(*keys)
    finally:
        await redis.aclose()


@pytest.fixture
async def deployment(
    tmp_path: Path, postgres_url: str, redis_available: str
) -> AsyncIterator[Deployment]:
    # Every Redis key holds the bot id: a bot of its own keeps this test apart from others.
    bot_id = random.randrange(10**9, 10**10)
    async with (
        start_sandbox(Settings(_env_file=None, sandbox_port=0), bot_token=f"{bot_id}:ops") as box,
        aiohttp.ClientSession() as http,
    ):
        env = settings_env(
            box.bot_settings,
            database_url=postgres_url,
            redis_url=redis_available,
            webhook_url=PUBLIC_URL,
            webhook_secret=SECRET,
            webhook_host="127.0.0.1",
            webhook_port=0,
            event_lock_timeout=5,  # a killed replica's chat lock: seconds, not a minute
            log_format="json",
            log_level="INFO",
        )
        code, lines = await run_command([*MIGRATE], env, tmp_path)
        assert code == 0, lines
        set_webhook = asyncio.create_task(run_command([*SET_WEBHOOK], env, tmp_path))
        try:
            async with replicas(2, env, tmp_path, alongside=set_webhook) as running:
                code, lines = set_webhook.result()
                assert code == 0, lines
                webhook = box.world.webhook
                assert (webhook["url"], webhook["secret_token"]) == (PUBLIC_URL, SECRET)
                assert {"message", "callback_query"} <= set(webhook["allowed_updates"])
                box.world.webhook_targets = [r.url for r in running]
                yield Deployment(WebhookLive(box, http, None), running, env, tmp_path)  # type: ignore[arg-type]
        finally:
            await forget_redis_keys(bot_id)


def errors_in(replica: Replica) -> list[dict]:
    return [line for line in replica.lines if line.get("level") in {"ERROR", "CRITICAL"}]


async def ask_for_help(teacher: TeacherDriver, operator) -> int:  # type: ignore[no-untyped-def]
    await teacher.opens_from_journal()
    await teacher.press("Не получается")
    await teacher.press("Позвать специалиста")
    topic = await operator.sees_new_topic()
    await operator.sees_in_topic(topic, teacher.teacher.full_name)
    await teacher.says("Не приходит звонок")
    await operator.sees_in_topic(topic, "Не приходит звонок")
    return topic


async def test_teachers_link_at_once_with_their_clicks_on_alternating_replicas(
    deployment: Deployment,
) -> None:
    live, world = deployment.live, deployment.world
    a = live.teacher("vkid_no_profile")
    b = live.teacher("profile_exists")
    b_signed_in = live.teacher("profile_exists_authorised")
    stuck = live.teacher("no_vkid")
    operator = live.operator()

    *_, topic = await asyncio.gather(
        link_new_profile(a),
        link_existing_profile(b),
        link_existing_profile(b_signed_in, password_asked=False),
        ask_for_help(stuck, operator),
    )

    for teacher in (a, b, b_signed_in):
        successes = [m for m in teacher.bot_messages() if "успешно привязан" in text_of(m)]
        assert len(successes) == 1, teacher.teacher.case
    # One topic for the one handoff, its card once, the teacher's words relayed once.
    assert list(operator.helpdesk.topics) == [topic]
    in_topic = [text_of(m) for m in operator.messages_in(topic)]
    assert sum(stuck.teacher.full_name in t for t in in_topic) == 1
    assert sum("Не приходит звонок" in t for t in in_topic) == 1
    # Telegram's view: every update acknowledged exactly once, each chat served by both replicas.
    delivered = [a for a in world.webhook_attempts if a.delivered]
    assert all(n == 1 for n in Counter(a.update_id for a in delivered).values())
    urls = {r.url for r in deployment.replicas}
    for teacher in (a, b, b_signed_in, stuck):
        served = {a.target for a in delivered if a.chat == teacher.teacher.user_id}
        assert served == urls, teacher.teacher.case
    for replica in deployment.replicas:
        assert errors_in(replica) == []
        healthz = [f"http://127.0.0.1:{replica.port}/healthz"]
        probe = {"env": deployment.env, "cwd": deployment.cwd, "module": PROBE_MODULE}
        assert (await run_command(healthz, **probe))[0] == 0
        assert await replica.stop() == 0  # SIGTERM: drained and closed cleanly
        assert "webhook stopped" in replica.messages()
        assert (await run_command(healthz, **probe))[0] == 1


async def test_a_replica_killed_mid_update_is_replaced_and_the_teacher_sees_the_next_window(
    deployment: Deployment,
) -> None:
    live, world = deployment.live, deployment.world
    teacher = live.teacher("vkid_no_profile")
    await teacher.opens_from_journal()
    await teacher.sees_button("Начнём")
    # The bot's answer to her next tap is held on its way to Telegram: the update is in flight.
    held = world.faults.hold("editMessageText")
    tapping = asyncio.create_task(teacher.press("Начнём"))
    await asyncio.wait_for(held.entered.wait(), 30)
    [(update_id, target)] = world.webhook_in_flight.items()
    victim = next(r for r in deployment.replicas if r.url == target)
    survivor = next(r for r in deployment.replicas if r is not victim)

    victim.kill()
    assert await victim.process.wait() == -9
    held.release()  # what the dead replica was sending never arrives
    # Its replacement boots meanwhile (the orchestrator's restart); the balancer adds it later.
    restarting = asyncio.create_task(
        start_replica("replica-restarted", deployment.env, deployment.cwd)
    )
    await asyncio.wait_for(tapping, 60)  # Telegram delivered it again; someone answered her

    window = await teacher.sees("VPN")
    await live.bot_idle()
    assert sum("VPN" in text_of(m) for m in teacher.bot_messages()) == 1
    attempts = [(a.target, a.delivered) for a in world.webhook_attempts if a.update_id == update_id]
    assert attempts == [(victim.url, False), (survivor.url, True)]
    # A restarted replica takes its place behind the balancer, and she goes on from there.
    restarted = await restarting
    deployment.replicas.append(restarted)
    deployment.route_to([restarted, survivor])
    await teacher.press("VPN выключен")
    await teacher.sees("учебный профиль Сферум")
    assert window["message_id"] in teacher.chat.messages
    for replica in (survivor, restarted):
        assert errors_in(replica) == []
