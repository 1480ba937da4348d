"""The update ledger behind de-duplication: done after handling, released on failure, durable
across a restart, shared by replicas through Redis (a dead replica's claim lapses)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from aiogram.types import Update
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.middlewares.dedup import UpdateDeduplicationMiddleware
from bot.shared_state.update_ledger import MemoryUpdateLedger, RedisUpdateLedger
from services.storage.db import create_all, create_engine, create_session_factory
from services.storage.processed_updates import ProcessedUpdates
from services.storage.write_behind import WriteBehind

BOT = 4242


@pytest.fixture
async def engine(tmp_path: Path):
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'bot.sqlite3'}")
    await create_all(engine)
    yield engine
    await engine.dispose()


def durable_ledger(engine: AsyncEngine, clock=None) -> tuple[MemoryUpdateLedger, WriteBehind]:  # type: ignore[no-untyped-def]
    factory = create_session_factory(engine)
    writer = WriteBehind(factory)
    kwargs = {"clock": clock} if clock else {}
    processed = ProcessedUpdates(factory, writer, bot_id=BOT, **kwargs)
    return MemoryUpdateLedger(processed=processed), writer


async def run_through(middleware: UpdateDeduplicationMiddleware, update_id: int, handler) -> object:  # type: ignore[no-untyped-def]
    return await middleware(handler, Update(update_id=update_id), {})


async def test_an_update_whose_handler_failed_is_handled_when_delivered_again() -> None:
    middleware = UpdateDeduplicationMiddleware()
    handled: list[int] = []

    async def crashes(_event, _data):  # type: ignore[no-untyped-def]
        raise RuntimeError("the database went away mid-update")

    async def works(event, _data):  # type: ignore[no-untyped-def]
        handled.append(event.update_id)
        return "ok"

    with pytest.raises(RuntimeError):
        await run_through(middleware, 5, crashes)
    assert await run_through(middleware, 5, works) == "ok"  # not "seen": handled now
    assert await run_through(middleware, 5, works) is None  # and now it is done
    assert handled == [5] and middleware.skipped == 1


async def test_done_markers_survive_a_restart(engine: AsyncEngine) -> None:
    ledger, writer = durable_ledger(engine)
    await ledger.start()
    assert await ledger.claim(10)
    await ledger.done(10)
    assert await ledger.claim(11)
    await ledger.release(11)  # failed: not done
    await writer.flush()  # what the polling loop's commit does before confirming

    restarted, writer2 = durable_ledger(engine)
    await restarted.start()
    assert await restarted.claim(10) is False  # handled by the previous process
    assert await restarted.claim(11) is True  # never finished: handle it
    assert await restarted.claim(12) is True  # new
    await writer.close()
    await writer2.close()


async def test_markers_older_than_a_day_are_purged_at_start(engine: AsyncEngine) -> None:
    moment = [datetime(2026, 1, 1, tzinfo=UTC)]
    ledger, writer = durable_ledger(engine, clock=lambda: moment[0])
    await ledger.start()
    assert await ledger.claim(20)
    await ledger.done(20)
    await writer.flush()

    moment[0] += timedelta(hours=25)
    restarted, writer2 = durable_ledger(engine, clock=lambda: moment[0])
    await restarted.start()
    assert restarted._processed is not None and restarted._processed.horizon == 0
    await writer.close()
    await writer2.close()


async def test_memory_is_bounded() -> None:
    ledger = MemoryUpdateLedger(capacity=100)
    for update_id in range(1000):
        assert await ledger.claim(update_id)
        await ledger.done(update_id)
    assert len(ledger._done) == 100 and not ledger._in_flight
    assert await ledger.claim(999) is False


# --- Redis: replicas --------------------------------------------------------------------------


@pytest.mark.redis
async def test_replicas_share_done_and_wait_for_a_claim_in_progress(redis, redis_prefix) -> None:  # type: ignore[no-untyped-def]
    looked = asyncio.Event()

    async def note_wait(_seconds: float) -> None:
        looked.set()
        await asyncio.sleep(0)

    replica_a = RedisUpdateLedger(redis, prefix=redis_prefix)
    replica_b = RedisUpdateLedger(redis, prefix=redis_prefix, sleep=note_wait)

    assert await replica_a.claim(1)
    waiting = asyncio.create_task(replica_b.claim(1))  # the same update on another replica
    await looked.wait()
    assert not waiting.done()
    await replica_a.done(1)
    assert await waiting is False  # A finished it: B skips

    assert await replica_a.claim(2)
    waiting = asyncio.create_task(replica_b.claim(2))
    await replica_a.release(2)  # A failed: B handles it
    assert await waiting is True
    await replica_b.done(2)
    await replica_a.close()
    await replica_b.close()


@pytest.mark.redis
async def test_the_claim_of_a_replica_that_died_lapses_and_another_takes_over(  # type: ignore[no-untyped-def]
    redis, redis_prefix
) -> None:
    dead = RedisUpdateLedger(redis, prefix=redis_prefix, lease_ms=60_000)
    assert await dead.claim(3)
    await dead.close()  # killed: it never marks done nor releases, nor renews
    key = f"{redis_prefix}:update:3"

    async def lease_lapses(_seconds: float) -> None:
        await redis.delete(key)  # what Redis does when the lease's PX runs out

    survivor = RedisUpdateLedger(redis, prefix=redis_prefix, sleep=lease_lapses)
    assert await survivor.claim(3) is True
    await survivor.done(3)
    assert await redis.get(key) == b"done"
    assert 0 < await redis.pttl(key) <= 24 * 3600 * 1000
    await survivor.close()
