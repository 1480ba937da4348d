"""Per-update scope: cached reads, one write per key, flush on failure, concurrent updates."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator

import pytest
from aiogram.fsm.storage.base import DefaultKeyBuilder, StorageKey
from sqlalchemy.ext.asyncio import AsyncEngine

from services.storage.fsm import SQLStorage
from tests.storage.conftest import StatementLog

pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)

BOT_ID = 4242
TEACHER = StorageKey(bot_id=BOT_ID, chat_id=100, user_id=100)
STACK = StorageKey(bot_id=BOT_ID, chat_id=100, user_id=100, destiny="aiogd:stack:")


def build_storage(engine: AsyncEngine, cache_size: int = 20_000) -> SQLStorage:
    return SQLStorage(engine, DefaultKeyBuilder(with_destiny=True), cache_size=cache_size)


@pytest.fixture
async def storage(engine: AsyncEngine) -> AsyncIterator[SQLStorage]:
    storage = build_storage(engine)
    yield storage
    await storage.close()


async def read_back(engine: AsyncEngine, key: StorageKey) -> tuple[str | None, dict]:
    """What a freshly started bot would read (no cache shared with the storage under test)."""
    fresh = build_storage(engine)
    try:
        return await fresh.get_state(key), await fresh.get_data(key)
    finally:
        await fresh.close()


async def test_many_writes_in_a_scope_make_one_write_per_key_in_one_transaction(
    storage: SQLStorage, statement_log: StatementLog
) -> None:
    async with storage.scope():
        for step in range(5):
            await storage.set_state(TEACHER, f"Link:step{step}")
            await storage.set_data(STACK, {"intents": [step]})
            await storage.update_data(TEACHER, {"step": step})
        assert statement_log.matching("INSERT") == []
    assert sorted(statement_log.written_keys()) == sorted(
        [
            storage.key_builder.build(TEACHER, "state"),
            storage.key_builder.build(TEACHER, "data"),
            storage.key_builder.build(STACK, "data"),
        ]
    )
    assert statement_log.commits == 1


async def test_clearing_in_a_scope_is_one_delete(
    storage: SQLStorage, statement_log: StatementLog, engine: AsyncEngine
) -> None:
    await storage.set_data(STACK, {"intents": ["x"]})
    statement_log.clear()
    async with storage.scope():
        await storage.set_data(STACK, {"intents": ["y"]})
        await storage.set_data(STACK, {})
    assert statement_log.matching("INSERT") == []
    assert statement_log.written_keys() == [storage.key_builder.build(STACK, "data")]
    assert await read_back(engine, STACK) == (None, {})


async def test_reads_in_a_scope_hit_the_database_once_per_key(
    engine: AsyncEngine, statement_log: StatementLog
) -> None:
    """Without the process-wide cache, each update loads a key once and then reads its cache."""
    writer = build_storage(engine)
    await writer.set_state(TEACHER, "Link:phone")
    await writer.close()
    storage = build_storage(engine, cache_size=0)
    try:
        for _update in range(2):
            statement_log.clear()
            async with storage.scope():
                for _call in range(4):
                    assert await storage.get_state(TEACHER) == "Link:phone"
                    assert await storage.get_data(STACK) == {}
            assert len(statement_log.matching("SELECT")) == 2
    finally:
        await storage.close()


async def test_process_cache_serves_later_updates_without_queries(
    storage: SQLStorage, statement_log: StatementLog
) -> None:
    async with storage.scope():
        await storage.get_state(TEACHER)
        await storage.set_data(STACK, {"intents": ["x"]})
    statement_log.clear()
    async with storage.scope():
        assert await storage.get_state(TEACHER) is None
        assert await storage.get_data(STACK) == {"intents": ["x"]}
    assert statement_log.statements == []


async def test_writes_are_flushed_when_the_update_fails(
    storage: SQLStorage, engine: AsyncEngine
) -> None:
    with pytest.raises(RuntimeError, match="handler broke"):
        async with storage.scope():
            await storage.set_state(TEACHER, "Link:code")
            await storage.set_data(TEACHER, {"flow_id": "f-1"})
            raise RuntimeError("handler broke")
    assert await read_back(engine, TEACHER) == ("Link:code", {"flow_id": "f-1"})


class FailingStore:
    """Makes the storage's next `count` flushes fail like a lost database."""

    def __init__(self, storage: SQLStorage, count: int) -> None:
        self.real_store = storage._gateway.store
        self.remaining = count
        storage._gateway.store = self  # type: ignore[method-assign]

    async def __call__(self, upserts, deletes) -> None:  # type: ignore[no-untyped-def]
        if self.remaining:
            self.remaining -= 1
            raise ConnectionError("database went away")
        await self.real_store(upserts, deletes)


async def test_failed_flush_raises_keeps_the_values_and_is_retried(
    storage: SQLStorage, engine: AsyncEngine
) -> None:
    FailingStore(storage, count=1)
    with pytest.raises(ConnectionError):
        async with storage.scope():
            await storage.set_state(TEACHER, "Link:code")
    assert await storage.get_state(TEACHER) == "Link:code"  # still what the bot sees
    assert await read_back(engine, TEACHER) == (None, {})

    async with storage.scope():  # the next update's flush carries the earlier write too
        await storage.set_data(STACK, {"intents": ["x"]})
    assert await read_back(engine, TEACHER) == ("Link:code", {})
    assert await read_back(engine, STACK) == (None, {"intents": ["x"]})


async def test_failed_flush_after_failed_update_reports_the_update_error_and_logs(
    storage: SQLStorage, engine: AsyncEngine, caplog: pytest.LogCaptureFixture
) -> None:
    FailingStore(storage, count=1)
    with (
        caplog.at_level(logging.ERROR, logger="services.storage.fsm"),
        pytest.raises(RuntimeError, match="handler broke"),
    ):
        async with storage.scope():
            await storage.set_state(TEACHER, "Link:code")
            raise RuntimeError("handler broke")
    assert "FSM flush failed" in caplog.text
    await storage.close()  # close flushes what is still pending
    assert await read_back(engine, TEACHER) == ("Link:code", {})


async def test_next_update_sees_writes_of_an_update_not_yet_flushed(
    engine: AsyncEngine, statement_log: StatementLog
) -> None:
    """aiogram-dialog unlocks the chat before our scope flushes: the next update must not
    read the stack from the database and miss the buffered one."""
    storage = build_storage(engine, cache_size=0)
    first_wrote = asyncio.Event()
    second_read = asyncio.Event()

    async def first_update() -> None:
        async with storage.scope():
            await storage.set_data(STACK, {"intents": ["from first"]})
            first_wrote.set()
            await second_read.wait()

    async def second_update() -> dict:
        await first_wrote.wait()
        async with storage.scope():
            stack = await storage.get_data(STACK)
        second_read.set()
        return stack

    _, seen = await asyncio.gather(first_update(), second_update())
    assert seen == {"intents": ["from first"]}
    await storage.close()


async def test_concurrent_updates_of_one_key_last_writer_wins(
    storage: SQLStorage, engine: AsyncEngine
) -> None:
    first_wrote = asyncio.Event()
    second_wrote = asyncio.Event()

    async def first_update() -> None:
        async with storage.scope():
            await storage.set_data(TEACHER, {"by": "first"})
            first_wrote.set()
            await second_wrote.wait()

    async def second_update() -> None:
        await first_wrote.wait()
        async with storage.scope():
            await storage.set_data(TEACHER, {"by": "second"})
            second_wrote.set()

    await asyncio.gather(first_update(), second_update())
    assert await storage.get_data(TEACHER) == {"by": "second"}
    assert await read_back(engine, TEACHER) == (None, {"by": "second"})


async def test_updates_ending_together_share_a_transaction(
    storage: SQLStorage, engine: AsyncEngine, statement_log: StatementLog
) -> None:
    all_wrote = asyncio.Barrier(20)

    async def update(user_id: int) -> None:
        key = StorageKey(bot_id=BOT_ID, chat_id=user_id, user_id=user_id)
        async with storage.scope():
            await storage.set_state(key, f"Link:user{user_id}")
            await all_wrote.wait()

    await asyncio.gather(*(update(user_id) for user_id in range(20)))
    assert statement_log.commits < 20
    assert len(statement_log.written_keys()) == 20
    for user_id in (0, 19):
        key = StorageKey(bot_id=BOT_ID, chat_id=user_id, user_id=user_id)
        assert await read_back(engine, key) == (f"Link:user{user_id}", {})


async def test_a_write_racing_a_load_is_not_lost_by_the_cache(storage: SQLStorage) -> None:
    """A SELECT that started before a write must not put the old value in the cache."""
    real_load_many = storage._gateway.load_many
    loaded = asyncio.Event()
    release = asyncio.Event()

    async def slow_first_load(keys: list[str]) -> dict[str, str]:
        values = await real_load_many(keys)
        if not loaded.is_set():
            loaded.set()
            await release.wait()
        return values

    storage._gateway.load_many = slow_first_load  # type: ignore[method-assign]
    reader = asyncio.create_task(storage.get_state(TEACHER))
    await loaded.wait()
    await storage.set_state(TEACHER, "Link:code")  # write-through, while the SELECT is out
    release.set()
    assert await reader == "Link:code"
    assert await storage.get_state(TEACHER) == "Link:code"


async def test_cache_is_bounded_and_never_drops_unflushed_values(engine: AsyncEngine) -> None:
    storage = build_storage(engine, cache_size=3)
    keys = [StorageKey(bot_id=BOT_ID, chat_id=i, user_id=i) for i in range(10)]
    async with storage.scope():
        for key in keys:
            await storage.set_state(key, "Link:phone")
        assert len(storage._entries) == 10  # all dirty: kept until written
    assert len(storage._entries) <= 3
    for key in keys:
        assert await storage.get_state(key) == "Link:phone"
    assert len(storage._entries) <= 3
    await storage.close()


async def test_nested_scope_joins_the_outer_one(
    storage: SQLStorage, statement_log: StatementLog
) -> None:
    async with storage.scope():
        async with storage.scope():
            await storage.set_state(TEACHER, "Link:phone")
        assert statement_log.matching("INSERT") == []
    assert len(statement_log.matching("INSERT")) == 1


async def test_write_after_the_scope_ended_goes_straight_to_the_database(
    storage: SQLStorage, engine: AsyncEngine
) -> None:
    """A task spawned by a handler inherits the scope but may outlive it."""
    scope_ended = asyncio.Event()

    async def background_job() -> None:
        await scope_ended.wait()
        await storage.set_state(TEACHER, "Link:done")

    async with storage.scope():
        job = asyncio.create_task(background_job())
    scope_ended.set()
    await job
    assert await read_back(engine, TEACHER) == ("Link:done", {})


async def test_concurrent_cache_misses_are_loaded_in_one_query(
    storage: SQLStorage, statement_log: StatementLog
) -> None:
    """A burst of teachers after a restart: their first reads share one SELECT."""
    await storage.set_state(StorageKey(bot_id=BOT_ID, chat_id=3, user_id=3), "Link:code")
    storage_after_restart = build_storage(storage.engine)
    statement_log.clear()
    keys = [StorageKey(bot_id=BOT_ID, chat_id=i, user_id=i) for i in range(30)]
    states = await asyncio.gather(*(storage_after_restart.get_state(key) for key in keys))
    assert states == [None] * 3 + ["Link:code"] + [None] * 26
    assert len(statement_log.matching("SELECT")) == 1
    await storage_after_restart.close()


async def test_failed_load_raises_and_the_next_read_retries(storage: SQLStorage) -> None:
    real_load_many = storage._gateway.load_many
    failures = iter([ConnectionError("database went away")])

    async def flaky_load_many(keys: list[str]) -> dict[str, str]:
        for failure in failures:
            raise failure
        return await real_load_many(keys)

    storage._gateway.load_many = flaky_load_many  # type: ignore[method-assign]
    with pytest.raises(ConnectionError):
        await storage.get_state(TEACHER)
    assert await storage.get_state(TEACHER) is None
