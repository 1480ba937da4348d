"""Several replicas of the bot: with REDIS_URL they share what they must; without it a second
live process on the same database is refused at start-up with a clear message.

Two replicas here are two Dispatchers (each with its own storage objects, caches and shared-state
clients) on one database and one Redis; a teacher's updates land on either, like clicks behind a
load balancer.
"""

from __future__ import annotations

import asyncio
import functools
import os
import subprocess
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from aiogram import Dispatcher
from aiogram.types import Update
from redis.asyncio import Redis

from bot.app import build_dispatcher, build_runtime, create_storage
from bot.config import Settings
from bot.replica_guard import ReplicaConflict, hold_single_replica_lease
from bot.shared_state import SharedState, in_process, in_redis
from bot.shared_state.throttle_store import RedisThrottleStore
from services.clock import FakeClock
from services.linking.in_process import RunningBackend
from services.linking_client import LinkingClient
from services.storage.db import create_all, create_engine, create_session_factory
from services.storage.link_sessions import LinkSessionRepository
from services.storage.models import BotReplica
from services.storage.replicas import ReplicaLease
from tests.bot.helpers import Demo, reach_code
from tests.storage.conftest import REDIS_URL
from tests.support.bot_app import BotApp, make_bot_app
from tests.support.fake_telegram import Person

CASE = "vkid_no_profile"


@dataclass
class Replicas:
    a: BotApp
    b: Dispatcher

    def on(self, person: Person, replica: str) -> Person:
        """Route the teacher's next updates to replica "a" or "b"."""
        person.dp = self.a.dp if replica == "a" else self.b
        return person


@pytest.fixture
async def replicas(
    tmp_path: Path,
    backend: RunningBackend,
    clock: FakeClock,
    redis: Redis,
    redis_prefix: str,
) -> AsyncIterator[Replicas]:
    def shared() -> SharedState:
        state = in_redis(redis, bot_id=42, prefix=redis_prefix)
        # A fixed wall clock for flood control: the test must not depend on its own speed.
        state.throttle = RedisThrottleStore(redis, prefix=redis_prefix, clock=lambda: 1000.0)
        return state

    async with make_bot_app(
        tmp_path,
        backend.url,
        clock=clock,
        redis_url=REDIS_URL,
        redis_prefix=redis_prefix,
        shared=shared(),
    ) as app:
        storage, _ = create_storage(app.settings, app.engine)
        sessions_b = LinkSessionRepository(create_session_factory(app.engine), clock=clock.now)
        dp_b = build_dispatcher(
            app.settings,
            storage=storage,
            linking=app.linking,
            sessions=sessions_b,
            i18n=app.i18n,
            clock=clock,
            shared=shared(),
        )
        yield Replicas(app, dp_b)
        await storage.close()
        await sessions_b.close()


@pytest.mark.redis
async def test_a_language_chosen_on_one_replica_is_spoken_by_the_other(
    replicas: Replicas,
) -> None:
    teacher = replicas.a.teacher(1100)
    await replicas.on(teacher, "b").send("/start")  # replica B now knows her as Russian
    assert "электронного журнала" in teacher.last_text

    replicas.on(teacher, "a")
    await teacher.send("/language")
    await teacher.click("English")

    await replicas.on(teacher, "b").send("/start")
    assert "e-journal" in teacher.last_text


@pytest.mark.redis
async def test_a_flood_spread_over_replicas_is_still_one_flood(replicas: Replicas) -> None:
    teacher = replicas.a.teacher(1101)
    for number in range(20):
        await replicas.on(teacher, "ab"[number % 2]).send(f"сообщение {number}")
    assert "очень быстро" not in teacher.last_text

    await replicas.on(teacher, "b").send("ещё одно")
    assert "очень быстро" in teacher.last_text  # 21 in the window, counted across replicas


@pytest.mark.redis
async def test_the_same_update_on_two_replicas_at_once_has_one_effect(
    replicas: Replicas, demo: Demo, monkeypatch: pytest.MonkeyPatch
) -> None:
    teacher = replicas.a.teacher(1102)
    await reach_code(teacher, demo)
    calls: list[Any] = []
    real = LinkingClient.verify_code

    @functools.wraps(real)
    async def counted(self: LinkingClient, *args: Any, **kwargs: Any) -> Any:
        calls.append(args)
        return await real(self, *args, **kwargs)

    monkeypatch.setattr(LinkingClient, "verify_code", counted)
    update = Update(
        update_id=next(Person._update_ids),
        message=teacher._message(text=await demo.last_code(CASE)),
    )
    bot = replicas.a.bot
    await asyncio.gather(
        replicas.a.dp.feed_update(bot, update), replicas.b.feed_update(bot, update)
    )

    assert len(calls) == 1
    assert "Напишите ваши настоящие ФИО" in teacher.last_text


# --- without Redis: one process per database ---------------------------------------------------


def exited_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


async def test_a_second_live_process_is_refused_with_a_clear_message(factory) -> None:  # type: ignore[no-untyped-def]
    first = await hold_single_replica_lease(
        factory, ReplicaLease(factory, host="bot-host-1", pid=os.getppid())
    )

    with pytest.raises(ReplicaConflict) as refused:
        await hold_single_replica_lease(factory, ReplicaLease(factory, host="bot-host-2", pid=7))
    message = str(refused.value)
    assert "bot-host-1" in message and "REDIS_URL" in message and "ONE process" in message

    await first.release()
    second = await hold_single_replica_lease(factory, ReplicaLease(factory, host="bot-host-2"))
    await second.release()


async def test_the_ghost_of_a_killed_process_does_not_block_its_restart(factory) -> None:  # type: ignore[no-untyped-def]
    killed = ReplicaLease(factory, host="this-host", pid=exited_pid())
    await killed.register()  # SIGKILL: the row stays behind, fresh

    restarted = await hold_single_replica_lease(factory, ReplicaLease(factory, host="this-host"))
    async with factory() as db:
        assert await db.get(BotReplica, killed.instance_id) is None  # cleaned up
    await restarted.release()


async def test_a_lease_not_renewed_for_its_length_has_lapsed(factory) -> None:  # type: ignore[no-untyped-def]
    moment = [datetime(2026, 1, 1, tzinfo=UTC)]
    gone = ReplicaLease(factory, host="other-host", pid=1, clock=lambda: moment[0])
    await gone.register()
    moment[0] += timedelta(seconds=31)

    lease = ReplicaLease(factory, host="this-host", clock=lambda: moment[0])
    assert await lease.others_alive() == []


async def test_build_runtime_refuses_without_redis_and_starts_with_it(
    tmp_path: Path, redis_prefix: str
) -> None:
    database = f"sqlite+aiosqlite:///{tmp_path / 'bot.sqlite3'}"
    engine = create_engine(database)
    await create_all(engine)
    other = ReplicaLease(create_session_factory(engine), host="replica-elsewhere", pid=1)
    await other.register()  # another replica, alive
    await engine.dispose()
    base = {"bot_token": "42:TEST", "database_url": database, "redis_prefix": redis_prefix}

    with pytest.raises(ReplicaConflict):
        async with build_runtime(Settings(_env_file=None, **base), create_tables=True):  # type: ignore[arg-type]
            pass

    settings = Settings(_env_file=None, redis_url=REDIS_URL, **base)  # type: ignore[arg-type]
    async with build_runtime(settings, create_tables=True) as runtime:
        assert runtime.delivery.shared.shared_by_replicas


def test_in_process_state_is_not_shared() -> None:
    assert not in_process().shared_by_replicas


@pytest.mark.redis
async def test_a_double_tap_waits_but_the_same_update_delivered_again_goes_on(
    redis: Redis, redis_prefix: str
) -> None:
    replica_a = RedisThrottleStore(redis, prefix=redis_prefix)
    replica_b = RedisThrottleStore(redis, prefix=redis_prefix)
    assert await replica_a.start_press(7, "consent", update_id=50)  # then replica A is killed

    assert not await replica_b.start_press(7, "consent", update_id=51)  # a second tap: wait
    assert await replica_b.start_press(7, "consent", update_id=50)  # Telegram's redelivery
    await replica_b.end_press(7, "consent")
    assert await replica_a.start_press(7, "consent", update_id=52)
