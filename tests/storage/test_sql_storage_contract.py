"""aiogram's storage contract for SQLStorage, on SQLite and PostgreSQL, in and out of a scope."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, nullcontext

import pytest
from aiogram.exceptions import DataNotDictLikeError
from aiogram.fsm.state import State, StatesGroup
from aiogram.fsm.storage.base import DefaultKeyBuilder, StorageKey
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from services.storage.fsm import FsmRecord, SQLStorage

BOT_ID = 4242
TEACHER = StorageKey(bot_id=BOT_ID, chat_id=100, user_id=100)


class Link(StatesGroup):
    phone = State()
    code = State()


@pytest.fixture(params=["write-through", "scoped"])
def scope_of(request: pytest.FixtureRequest) -> Callable[[SQLStorage], AbstractAsyncContextManager]:
    """Run a test body outside any scope, or inside one (the contract must hold both ways)."""
    if request.param == "scoped":
        return lambda storage: storage.scope()
    return lambda storage: nullcontext()


@pytest.fixture(params=[20_000, 0], ids=["process-cache", "update-cache"])
async def storage(request: pytest.FixtureRequest, engine: AsyncEngine) -> AsyncIterator[SQLStorage]:
    storage = SQLStorage(
        engine, DefaultKeyBuilder(with_destiny=True, with_bot_id=True), cache_size=request.param
    )
    yield storage
    await storage.close()


async def count_rows(engine: AsyncEngine) -> int:
    async with engine.connect() as connection:
        return (await connection.execute(select(func.count()).select_from(FsmRecord))).scalar_one()


async def test_state_is_set_read_and_cleared(storage: SQLStorage, scope_of, engine) -> None:
    async with scope_of(storage):
        assert await storage.get_state(TEACHER) is None
        await storage.set_state(TEACHER, Link.phone)
        assert await storage.get_state(TEACHER) == "Link:phone"
        await storage.set_state(TEACHER, "Link:code")
        assert await storage.get_state(TEACHER) == "Link:code"
        await storage.set_state(TEACHER, None)
        assert await storage.get_state(TEACHER) is None
    assert await count_rows(engine) == 0


async def test_data_is_replaced_updated_and_cleared(storage: SQLStorage, scope_of, engine) -> None:
    async with scope_of(storage):
        assert await storage.get_data(TEACHER) == {}
        await storage.set_data(TEACHER, {"phone": "+7 *** ***-**-77", "attempts": 1})
        assert await storage.get_data(TEACHER) == {"phone": "+7 *** ***-**-77", "attempts": 1}
        merged = await storage.update_data(TEACHER, {"attempts": 2, "school": "Школа №1"})
        assert merged == {"phone": "+7 *** ***-**-77", "attempts": 2, "school": "Школа №1"}
        assert await storage.get_data(TEACHER) == merged
        assert await storage.get_value(TEACHER, "attempts") == 2
        assert await storage.get_value(TEACHER, "missing", "fallback") == "fallback"
        await storage.set_data(TEACHER, {})
        assert await storage.get_data(TEACHER) == {}
    assert await count_rows(engine) == 0


async def test_data_returned_is_a_copy(storage: SQLStorage, scope_of) -> None:
    async with scope_of(storage):
        written = {"intents": ["a"]}
        await storage.set_data(TEACHER, written)
        written["intents"].append("changed by caller")
        read = await storage.get_data(TEACHER)
        read["intents"].append("changed by reader")
        assert await storage.get_data(TEACHER) == {"intents": ["a"]}


async def test_data_must_be_a_dict(storage: SQLStorage) -> None:
    with pytest.raises(DataNotDictLikeError):
        await storage.set_data(TEACHER, [("a", 1)])  # type: ignore[arg-type]


async def test_data_that_is_not_json_fails_where_it_is_written(storage: SQLStorage) -> None:
    async with storage.scope():
        with pytest.raises(TypeError):
            await storage.set_data(TEACHER, {"when": object()})
        await storage.set_data(TEACHER, {"ok": True})
    assert await storage.get_data(TEACHER) == {"ok": True}


async def test_destinies_are_separate_records(storage: SQLStorage, scope_of) -> None:
    stack = StorageKey(bot_id=BOT_ID, chat_id=100, user_id=100, destiny="aiogd:stack:")
    context = StorageKey(bot_id=BOT_ID, chat_id=100, user_id=100, destiny="aiogd:context:x1")
    async with scope_of(storage):
        await storage.set_data(stack, {"intents": ["x1"]})
        await storage.set_data(context, {"state": "Link:phone"})
        await storage.set_state(TEACHER, Link.code)
        assert await storage.get_data(stack) == {"intents": ["x1"]}
        assert await storage.get_data(context) == {"state": "Link:phone"}
        assert await storage.get_data(TEACHER) == {}
        assert await storage.get_state(stack) is None
        assert await storage.get_state(TEACHER) == "Link:code"


@pytest.mark.parametrize(
    "other",
    [
        StorageKey(bot_id=BOT_ID, chat_id=200, user_id=100),
        StorageKey(bot_id=BOT_ID, chat_id=100, user_id=200),
        StorageKey(bot_id=BOT_ID + 1, chat_id=100, user_id=100),
        StorageKey(bot_id=BOT_ID, chat_id=100, user_id=100, thread_id=7),
    ],
    ids=["other-chat", "other-user", "other-bot", "other-thread"],
)
async def test_keys_are_isolated(storage: SQLStorage, scope_of, other: StorageKey) -> None:
    async with scope_of(storage):
        await storage.set_state(TEACHER, Link.phone)
        await storage.set_data(TEACHER, {"who": "teacher"})
        assert await storage.get_state(other) is None
        assert await storage.get_data(other) == {}
        await storage.set_state(other, Link.code)
        await storage.set_data(other, {"who": "other"})
        assert await storage.get_state(TEACHER) == "Link:phone"
        assert await storage.get_data(TEACHER) == {"who": "teacher"}


async def test_values_survive_a_restart(engine: AsyncEngine, scope_of) -> None:
    """Close the storage and open a new one on the same database: a bot restart."""
    key_builder = DefaultKeyBuilder(with_destiny=True)
    context = StorageKey(bot_id=BOT_ID, chat_id=100, user_id=100, destiny="aiogd:context:x1")
    before = SQLStorage(engine, key_builder)
    async with scope_of(before):
        await before.set_state(TEACHER, Link.code)
        await before.set_data(TEACHER, {"flow_id": "f-1"})
        await before.set_data(context, {"state": "Link:code", "nested": {"ru": "Привязать"}})
    await before.close()

    after = SQLStorage(engine, key_builder)
    try:
        assert await after.get_state(TEACHER) == "Link:code"
        assert await after.get_data(TEACHER) == {"flow_id": "f-1"}
        assert await after.get_data(context) == {
            "state": "Link:code",
            "nested": {"ru": "Привязать"},
        }
    finally:
        await after.close()


async def test_storage_built_from_url_persists_in_the_sqlite_file(sqlite_url: str) -> None:
    from services.storage.db import create_all, create_engine

    setup = create_engine(sqlite_url)
    await create_all(setup)
    await setup.dispose()

    first = SQLStorage.from_url(sqlite_url)
    await first.set_state(TEACHER, Link.phone)
    await first.close()
    second = SQLStorage.from_url(sqlite_url)
    try:
        assert await second.get_state(TEACHER) == "Link:phone"
    finally:
        await second.close()


async def test_default_destiny_requires_nothing_special(engine: AsyncEngine) -> None:
    """Without with_destiny the builder refuses dialog keys, as aiogram does; ours defaults on."""
    dialog_key = StorageKey(bot_id=BOT_ID, chat_id=1, user_id=1, destiny="aiogd:stack:")
    plain = SQLStorage(engine, DefaultKeyBuilder())
    with pytest.raises(ValueError, match="with_destiny"):
        await plain.get_data(dialog_key)
    await plain.close()
    default = SQLStorage(engine)
    await default.set_data(dialog_key, {"ok": 1})
    assert await default.get_data(dialog_key) == {"ok": 1}
    await default.close()
