"""A database made by an older bot's create_all (before the delivery tables) is adopted: stamped
at the revision it matches, upgraded to head, its rows kept."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import text

from services.storage.db import create_engine
from services.storage.schema import (
    VERSION_TABLE,
    Outcome,
    alembic_config,
    head_revision,
    read_state,
    upgrade_to_head,
)
from tests.storage.conftest import (
    POSTGRES_URL_TEMPLATE,
    create_postgres_database,
    drop_postgres_database,
)

INITIAL = "0a86603156a9"  # the schema create_all made before the delivery tables


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'bot.sqlite3'}"
        return
    name = create_postgres_database("adoption_test")
    try:
        yield POSTGRES_URL_TEMPLATE.format(database=name)
    finally:
        drop_postgres_database(name)


def sql(database_url: str, statement: str):  # type: ignore[no-untyped-def]
    async def go():  # type: ignore[no-untyped-def]
        engine = create_engine(database_url)
        try:
            async with engine.begin() as connection:
                result = await connection.execute(text(statement))
                return result.all() if result.returns_rows else None
        finally:
            await engine.dispose()

    return asyncio.run(go())


def state_of(database_url: str):  # type: ignore[no-untyped-def]
    async def go():  # type: ignore[no-untyped-def]
        engine = create_engine(database_url)
        try:
            return await read_state(engine)
        finally:
            await engine.dispose()

    return asyncio.run(go())


def test_an_older_create_all_database_is_stamped_where_it_is_and_upgraded(database: str) -> None:
    command.upgrade(alembic_config(database), INITIAL)
    sql(database, f"DROP TABLE {VERSION_TABLE}")  # what the old create_all left: no revision
    sql(
        database,
        "INSERT INTO teachers (user_id, locale, created_at) VALUES (7, 'en', CURRENT_TIMESTAMP)",
    )

    assert upgrade_to_head(database) is Outcome.ADOPTED

    state = state_of(database)
    assert state.revision == head_revision() and state.differences == ()
    assert {"processed_updates", "bot_replicas", "helpdesk_topic_claims"} <= state.tables
    assert sql(database, "SELECT locale FROM teachers WHERE user_id = 7") == [("en",)]
