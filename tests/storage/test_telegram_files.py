"""File ids of the bot's pictures: kept per bot, name and content; racing uploads never fail."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from services.storage.db import create_engine, create_session_factory
from services.storage.telegram_files import TelegramFile, TelegramFileIds


@pytest.fixture
async def files_engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(database_url)
    async with engine.begin() as connection:
        await connection.run_sync(TelegramFile.__table__.create, checkfirst=True)
        await connection.execute(text("DELETE FROM telegram_files"))
    yield engine
    await engine.dispose()


async def test_an_id_is_kept_per_bot_name_and_content(files_engine: AsyncEngine) -> None:
    store = TelegramFileIds(create_session_factory(files_engine))
    await store.put(1, "call_reset", "aaa", "id-1")

    fresh = TelegramFileIds(create_session_factory(files_engine))  # another process
    assert await fresh.get(1, "call_reset", "aaa") == "id-1"
    assert await fresh.get(2, "call_reset", "aaa") is None  # another bot: its own ids
    assert await fresh.get(1, "call_reset", "bbb") is None  # an edited picture: a new file
    await fresh.forget(1, "call_reset", "aaa")
    assert (
        await TelegramFileIds(create_session_factory(files_engine)).get(1, "call_reset", "aaa")
        is None
    )


async def test_processes_remembering_uploads_at_once_never_fail(files_engine: AsyncEngine) -> None:
    stores = [TelegramFileIds(create_session_factory(files_engine)) for _ in range(6)]
    await asyncio.gather(
        *(store.put(1, "forgot_password", "aaa", f"id-{n}") for n, store in enumerate(stores))
    )
    remembered = await TelegramFileIds(create_session_factory(files_engine)).get(
        1, "forgot_password", "aaa"
    )
    assert remembered in {f"id-{n}" for n in range(6)}
    async with files_engine.connect() as db:
        assert (await db.execute(text("SELECT count(*) FROM telegram_files"))).scalar() == 1
