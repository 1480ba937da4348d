"""Alembic: a fresh database upgraded to head has exactly the tables the models declare.

When this fails after a model change, generate a revision:
    .venv/bin/alembic revision --autogenerate -m "what changed"
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.runtime.migration import MigrationContext

from services.storage import fsm_records, models, telegram_files  # noqa: F401 - their tables
from services.storage.db import Base
from tests.storage.conftest import create_postgres_database, drop_postgres_database

with contextlib.suppress(ImportError):
    from services.helpdesk import models as helpdesk_models  # noqa: F401

REPO_ROOT = Path(__file__).resolve().parents[2]


def alembic_config(async_url: str) -> Config:
    config = Config(str(REPO_ROOT / "alembic.ini"))
    config.set_main_option("sqlalchemy.url", async_url)
    config.attributes["configure_logger"] = False  # keep pytest's logging setup
    return config


def differences(sync_url: str) -> list:
    engine = sqlalchemy.create_engine(sync_url)
    try:
        with engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={"compare_type": True})
            return compare_metadata(context, Base.metadata)
    finally:
        engine.dispose()


def upgrade_then_compare(async_url: str, sync_url: str) -> None:
    config = alembic_config(async_url)
    command.upgrade(config, "head")
    assert differences(sync_url) == []
    command.downgrade(config, "base")
    engine = sqlalchemy.create_engine(sync_url)
    try:
        remaining = set(sqlalchemy.inspect(engine).get_table_names()) - {"alembic_version"}
    finally:
        engine.dispose()
    assert remaining == set()


def test_sqlite_upgraded_to_head_matches_the_models(tmp_path: Path) -> None:
    path = tmp_path / "migrated.sqlite3"
    upgrade_then_compare(f"sqlite+aiosqlite:///{path}", f"sqlite:///{path}")


@pytest.fixture
def empty_postgres_database() -> Iterator[str]:
    """Name of a database created for this test alone."""
    name = create_postgres_database("migrations_test")
    yield name
    drop_postgres_database(name)


@pytest.mark.postgres
def test_postgres_upgraded_to_head_matches_the_models(empty_postgres_database: str) -> None:
    base = f"postgres@127.0.0.1:5432/{empty_postgres_database}"
    # The sync comparison needs a sync driver; asyncpg has none, so it runs through
    # SQLAlchemy's async engine adapted with run_sync instead.
    config = alembic_config(f"postgresql+asyncpg://{base}")
    command.upgrade(config, "head")
    assert asyncio.run(_postgres_differences(f"postgresql+asyncpg://{base}")) == []
    command.downgrade(config, "base")


async def _postgres_differences(url: str) -> list:
    from sqlalchemy.ext.asyncio import create_async_engine

    engine = create_async_engine(url)
    try:
        async with engine.connect() as connection:
            return await connection.run_sync(
                lambda sync: compare_metadata(
                    MigrationContext.configure(sync, opts={"compare_type": True}), Base.metadata
                )
            )
    finally:
        await engine.dispose()
