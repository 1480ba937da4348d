"""A database made by an older bot's create_all (before the delivery tables) is adopted: stamped
at the revision it matches, upgraded to head, its rows kept."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic import command
from alembic.script import ScriptDirectory
from sqlalchemy import text

from services.storage.db import create_engine
from services.storage.schema import (
    VERSION_TABLE,
    Outcome,
    SchemaError,
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


def every_older_revision() -> list[str]:
    scripts = ScriptDirectory.from_config(alembic_config("sqlite://")).walk_revisions()
    return [script.revision for script in scripts][1:]  # head first: skip it


@pytest.mark.parametrize("revision", every_older_revision())
def test_a_create_all_database_of_any_older_revision_is_adopted(
    tmp_path: Path, revision: str
) -> None:
    """Whatever a later revision adds (tables or columns), an unversioned database made at an
    older one is recognised by its tables and columns and upgraded, never refused."""
    database = f"sqlite+aiosqlite:///{tmp_path / 'bot.sqlite3'}"
    command.upgrade(alembic_config(database), revision)
    sql(database, f"DROP TABLE {VERSION_TABLE}")

    assert upgrade_to_head(database) is Outcome.ADOPTED
    state = state_of(database)
    assert state.revision == head_revision() and state.differences == ()


def test_a_database_matching_no_revision_is_left_untouched(tmp_path: Path) -> None:
    database = f"sqlite+aiosqlite:///{tmp_path / 'bot.sqlite3'}"
    command.upgrade(alembic_config(database), INITIAL)
    sql(database, f"DROP TABLE {VERSION_TABLE}")
    sql(database, "ALTER TABLE teachers ADD COLUMN nickname TEXT")

    with pytest.raises(SchemaError):
        upgrade_to_head(database)
    assert state_of(database).revision is None
