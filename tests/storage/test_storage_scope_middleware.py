"""StorageScopeMiddleware on a real Dispatcher: one transaction per update, even on errors."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest
from aiogram import Bot, Dispatcher, F
from aiogram.fsm.context import FSMContext
from aiogram.fsm.storage.base import DefaultKeyBuilder, StorageKey
from aiogram.types import Chat, Message, Update, User
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.middlewares.storage_scope import StorageScopeMiddleware
from services.storage.fsm import SQLStorage
from tests.storage.conftest import StatementLog

pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)

BOT_TOKEN = "4242:TEST-TOKEN"
TEACHER_ID = 100


@pytest.fixture
async def storage(engine: AsyncEngine) -> AsyncIterator[SQLStorage]:
    storage = SQLStorage(engine, DefaultKeyBuilder(with_destiny=True))
    yield storage
    await storage.close()


def build_dispatcher(storage: SQLStorage) -> Dispatcher:
    dispatcher = Dispatcher(storage=storage)
    dispatcher.update.outer_middleware(StorageScopeMiddleware(storage))

    @dispatcher.message(F.text == "boom")
    async def failing(message: Message, state: FSMContext) -> None:
        await state.set_state("Link:broken")
        await state.update_data(error="boom")
        raise RuntimeError("handler broke")

    @dispatcher.message()
    async def counting(message: Message, state: FSMContext) -> None:
        for _ in range(3):
            data = await state.update_data(messages=(await state.get_value("messages", 0)) + 1)
            await state.set_state(f"Link:after{data['messages']}")

    return dispatcher


def teacher_says(text: str, update_id: int) -> Update:
    teacher = User(id=TEACHER_ID, is_bot=False, first_name="Мария")
    return Update(
        update_id=update_id,
        message=Message(
            message_id=update_id,
            date=datetime.now(UTC),
            chat=Chat(id=TEACHER_ID, type="private"),
            from_user=teacher,
            text=text,
        ),
    )


async def test_each_update_is_one_transaction_with_one_write_per_key(
    storage: SQLStorage, statement_log: StatementLog
) -> None:
    dispatcher = build_dispatcher(storage)
    bot = Bot(BOT_TOKEN)
    key = StorageKey(bot_id=bot.id, chat_id=TEACHER_ID, user_id=TEACHER_ID)
    for update_id in (1, 2):
        statement_log.clear()
        await dispatcher.feed_update(bot, teacher_says("hello", update_id))
        assert statement_log.commits == 1
        assert sorted(statement_log.written_keys()) == sorted(
            [storage.key_builder.build(key, "state"), storage.key_builder.build(key, "data")]
        )
    assert await storage.get_data(key) == {"messages": 6}
    assert await storage.get_state(key) == "Link:after6"
    await bot.session.close()


async def test_update_whose_handler_fails_still_persists_its_writes(
    storage: SQLStorage, engine: AsyncEngine
) -> None:
    dispatcher = build_dispatcher(storage)
    bot = Bot(BOT_TOKEN)
    with pytest.raises(RuntimeError, match="handler broke"):
        await dispatcher.feed_update(bot, teacher_says("boom", 1))
    restarted = SQLStorage(engine, DefaultKeyBuilder(with_destiny=True))
    key = StorageKey(bot_id=bot.id, chat_id=TEACHER_ID, user_id=TEACHER_ID)
    assert await restarted.get_state(key) == "Link:broken"
    assert await restarted.get_data(key) == {"error": "boom"}
    await restarted.close()
    await bot.session.close()
