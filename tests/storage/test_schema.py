"""Schema management: a fresh database is migrated, a create_all one adopted, a foreign one refused.

Sync tests: alembic runs its own event loop (`python -m bot migrate` runs `upgrade_to_head`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import text

from services.storage.db import create_all, create_engine
from services.storage.schema import (
    VERSION_TABLE,
    Outcome,
    SchemaError,
    alembic_config,
    head_revision,
    read_state,
    require_head,
    upgrade_to_head,
)
from tests.storage.conftest import (
    POSTGRES_URL_TEMPLATE,
    create_postgres_database,
    drop_postgres_database,
)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def empty_database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """The URL of an empty database of each supported kind, for this test alone."""
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'bot.sqlite3'}"
        return
    name = create_postgres_database("schema_test")
    try:
        yield POSTGRES_URL_TEMPLATE.format(database=name)
    finally:
        drop_postgres_database(name)


def run(database_url: str, sql: str | None = None, *, action=None):  # type: ignore[no-untyped-def]
    """Run `action(engine)` or one SQL statement on a short-lived engine; return its result."""

    async def go():  # type: ignore[no-untyped-def]
        engine = create_engine(database_url)
        try:
            if action is not None:
                return await action(engine)
            async with engine.begin() as connection:
                result = await connection.execute(text(sql))
                return result.all() if result.returns_rows else None
        finally:
            await engine.dispose()

    return asyncio.run(go())


def test_a_fresh_database_is_created_at_head_and_then_left_alone(empty_database: str) -> None:
    with pytest.raises(SchemaError, match="python -m bot migrate"):
        run(empty_database, action=require_head)

    assert upgrade_to_head(empty_database) is Outcome.CREATED
    assert upgrade_to_head(empty_database) is Outcome.CURRENT

    state = run(empty_database, action=read_state)
    assert state.revision == head_revision()
    assert state.differences == ()
    run(empty_database, action=require_head)  # a replica may start now


def test_a_database_made_by_create_all_is_adopted_with_its_rows(empty_database: str) -> None:
    run(empty_database, action=create_all)
    run(
        empty_database,
        "INSERT INTO teachers (user_id, locale, created_at) VALUES (7, 'en', '2026-01-01')",
    )
    with pytest.raises(SchemaError):
        run(empty_database, action=require_head)  # not versioned: replicas refuse it

    assert upgrade_to_head(empty_database) is Outcome.ADOPTED

    assert run(empty_database, "SELECT user_id, locale FROM teachers") == [(7, "en")]
    run(empty_database, action=require_head)
    # Alembic owns it now: it can take it down and up again like any migrated database.
    config = alembic_config(empty_database)
    command.downgrade(config, "base")
    assert run(empty_database, action=read_state).tables == {VERSION_TABLE}
    assert upgrade_to_head(empty_database) is Outcome.CREATED


def test_an_unversioned_database_that_differs_from_the_models_is_left_untouched(
    empty_database: str,
) -> None:
    run(empty_database, action=create_all)
    run(empty_database, "DROP TABLE analytics_events")

    with pytest.raises(SchemaError, match="differ from the models") as refused:
        upgrade_to_head(empty_database)

    assert "analytics_events" in str(refused.value)
    state = run(empty_database, action=read_state)
    assert state.revision is None
    assert VERSION_TABLE not in state.tables and "teachers" in state.tables


def test_a_percent_in_the_url_survives_the_alembic_config() -> None:
    url = "postgresql+asyncpg://bot:p%40ss%25word@db:5432/bot"
    assert alembic_config(url).get_main_option("sqlalchemy.url") == url
