"""The bot database's schema under alembic: upgrade to head, adopt a create_all database, check.

Production runs `upgrade_to_head` once before the bot starts (`python -m bot migrate`); replicas
only check with `require_head`, so two of them never race to migrate. A database made earlier by
`create_all` (the sandbox, old versions of the bot) has every table but no `alembic_version`: when
its tables match the models exactly it is stamped at head (adopted) instead of failing on
"table already exists"; when its tables and columns are exactly those of an older revision (it was
made by an older bot's create_all), it is stamped at that revision and upgraded from there;
otherwise nothing is touched and the differences are reported.
"""

from __future__ import annotations

import asyncio
import tempfile
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, inspect
from sqlalchemy.ext.asyncio import AsyncEngine

from services.storage.db import create_engine, registered_metadata

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
VERSION_TABLE = "alembic_version"


class SchemaError(RuntimeError):
    """The database cannot be used or migrated as it is; the message says what to do."""


class Outcome(StrEnum):
    """What `upgrade_to_head` did."""

    CURRENT = "already at head"
    CREATED = "created from scratch"
    UPGRADED = "upgraded"
    ADOPTED = "adopted: tables made by create_all stamped at head"


@dataclass(frozen=True)
class SchemaState:
    """What the database holds: its revision, its tables, how they differ from the models."""

    revision: str | None
    tables: frozenset[str]
    differences: tuple[Any, ...]

    @property
    def empty(self) -> bool:
        return not (self.tables - {VERSION_TABLE})


def alembic_config(database_url: str) -> Config:
    """An alembic Config for `database_url` that needs no alembic.ini (works from any directory)."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    # ConfigParser interpolates "%": an URL-encoded password must survive it.
    config.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    return config


def head_revision() -> str:
    """The newest revision in services/storage/migrations."""
    head = ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()
    if head is None:  # pragma: no cover - the repository always ships revisions
        raise SchemaError("no alembic revision found in services/storage/migrations")
    return head


def _read_state(connection: Connection) -> SchemaState:
    context = MigrationContext.configure(connection, opts={"compare_type": True})
    return SchemaState(
        revision=context.get_current_revision(),
        tables=frozenset(inspect(connection).get_table_names()),
        differences=tuple(compare_metadata(context, registered_metadata())),
    )


async def read_state(engine: AsyncEngine) -> SchemaState:
    """The database's revision, tables and differences from the models, read without changing it."""
    async with engine.connect() as connection:
        return await connection.run_sync(_read_state)


async def _read_state_of(database_url: str) -> SchemaState:
    engine = create_engine(database_url)
    try:
        return await read_state(engine)
    finally:
        await engine.dispose()


def upgrade_to_head(database_url: str) -> Outcome:
    """Bring the database to the newest revision (sync: alembic runs its own event loop).

    Raises `SchemaError` for an unversioned database whose tables differ from the models.
    """
    state = asyncio.run(_read_state_of(database_url))
    config = alembic_config(database_url)
    if state.revision is None and not state.empty:
        if not state.differences:
            command.stamp(config, "head")
            return Outcome.ADOPTED
        older = _revision_matching(database_url)
        if older is None:
            raise SchemaError(
                "the database has tables but no alembic revision, and they differ from the "
                f"models, so it was left untouched: {list(state.differences)!r}. Migrate it by "
                "hand (or start from an empty database)."
            )
        command.stamp(config, older)
        command.upgrade(config, "head")
        return Outcome.ADOPTED
    if state.revision == head_revision():
        return Outcome.CURRENT
    command.upgrade(config, "head")
    return Outcome.CREATED if state.empty else Outcome.UPGRADED


Shape = dict[str, frozenset[str]]


def _shape(connection: Connection) -> Shape:
    """Every table's column names (the alembic version table aside): what a revision leaves."""
    inspector = inspect(connection)
    return {
        table: frozenset(column["name"] for column in inspector.get_columns(table))
        for table in inspector.get_table_names()
        if table != VERSION_TABLE
    }


async def _shape_of(database_url: str) -> Shape:
    engine = create_engine(database_url)
    try:
        async with engine.connect() as connection:
            return await connection.run_sync(_shape)
    finally:
        await engine.dispose()


def _revision_matching(database_url: str) -> str | None:
    """The revision whose tables and columns an unversioned database has exactly, if any.

    Each revision's shape is read from a scratch SQLite database upgraded one revision at a
    time; names are compared, not types, so the answer holds for PostgreSQL too.
    """
    target = asyncio.run(_shape_of(database_url))
    revisions = list(ScriptDirectory.from_config(alembic_config("sqlite://")).walk_revisions())
    with tempfile.TemporaryDirectory() as scratch:
        scratch_url = f"sqlite+aiosqlite:///{Path(scratch) / 'shape.sqlite3'}"
        config = alembic_config(scratch_url)
        for script in reversed(revisions):  # oldest first
            command.upgrade(config, script.revision)
            if asyncio.run(_shape_of(scratch_url)) == target:
                return script.revision
    return None


async def require_head(engine: AsyncEngine) -> None:
    """Refuse to run on a database not migrated to head (a replica never migrates by itself)."""
    async with engine.connect() as connection:
        revision = await connection.run_sync(
            lambda sync: MigrationContext.configure(sync).get_current_revision()
        )
    head = head_revision()
    if revision != head:
        found = f"revision {revision}" if revision else "no alembic revision"
        raise SchemaError(
            f"the database schema is not at head ({head}; found {found}): "
            "run `python -m bot migrate` first"
        )
