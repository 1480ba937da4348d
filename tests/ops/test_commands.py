"""`python -m bot` as an operator types it: migrate, and webhook mode refusing bad settings."""

from __future__ import annotations

import asyncio
from pathlib import Path

from sqlalchemy import func, select

from bench.stats_data import generate, insert_dataset
from bot.config import Settings
from bot.webhook import GENERATE_SECRET
from services.storage.db import create_all, create_engine
from services.storage.models import FunnelTeacher
from tests.analytics.conftest import NOW, SPREAD, START
from tests.ops.replicas import MIGRATE, SERVE_WEBHOOK, run_command, settings_env


def env_for(tmp_path: Path, **overrides: object) -> dict[str, str]:
    settings = Settings(_env_file=None, database_url=f"sqlite+aiosqlite:///{tmp_path / 'b.db'}")
    return settings_env(settings, **overrides)


async def test_migrate_creates_then_leaves_alone_and_logs_json(tmp_path: Path) -> None:
    env = env_for(tmp_path, log_format="json")
    first, lines = await run_command([*MIGRATE], env, tmp_path)
    assert first == 0
    assert [line["message"] for line in lines if line["logger"] == "bot.migrate"] == [
        f"database sqlite+aiosqlite:///{tmp_path / 'b.db'}: created from scratch"
    ]
    again, lines = await run_command([*MIGRATE], env_for(tmp_path, log_level="WARNING"), tmp_path)
    assert (again, lines) == (0, [])  # nothing to do, and nothing said at WARNING


async def test_migrate_adopts_a_create_all_database(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'b.db'}")
    await create_all(engine)
    await engine.dispose()

    code, lines = await run_command([*MIGRATE], env_for(tmp_path), tmp_path)

    assert code == 0
    assert any("adopted" in line["message"] for line in lines)


async def test_migrate_backfills_the_funnel_facts(tmp_path: Path) -> None:
    """The upgrade that adds the funnel facts leaves them caught up: /stats need not."""
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'b.db'}")
    await create_all(engine)
    async with engine.begin() as connection:
        await insert_dataset(connection, generate(30, start=START, spread=SPREAD, seed=2), now=NOW)
    await engine.dispose()

    code, lines = await run_command([*MIGRATE], env_for(tmp_path), tmp_path)

    assert code == 0
    assert any(line["message"] == "funnel facts: 30 teachers caught up" for line in lines)
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'b.db'}")
    try:
        async with engine.connect() as connection:
            teachers = await connection.scalar(select(func.count()).select_from(FunnelTeacher))
    finally:
        await engine.dispose()
    assert teachers == 30


async def test_migrate_refuses_a_database_it_does_not_recognise(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'b.db'}")
    await create_all(engine)
    async with engine.begin() as connection:
        await connection.exec_driver_sql("DROP TABLE link_sessions")
    await engine.dispose()

    code, lines = await run_command([*MIGRATE], env_for(tmp_path), tmp_path)

    assert code == 1
    [refusal] = [line for line in lines if line["level"] == "ERROR"]
    assert "link_sessions" in refusal["message"] and "left untouched" in refusal["message"]


async def test_webhook_mode_will_not_start_without_a_secret(tmp_path: Path) -> None:
    env = env_for(
        tmp_path,
        bot_token="42:TEST",
        webhook_url="https://bot.example.org/tg",
        database_url="postgresql+asyncpg://nobody@127.0.0.1:1/none",  # never reached
    )
    runs = await asyncio.gather(
        run_command([*SERVE_WEBHOOK], env, tmp_path),
        run_command([*SERVE_WEBHOOK], {**env, "WEBHOOK_SECRET": "short"}, tmp_path),
    )
    for code, lines in runs:
        assert code == 2
        [refusal] = [line for line in lines if line["level"] == "ERROR"]
        assert "WEBHOOK_SECRET" in refusal["message"] and GENERATE_SECRET in refusal["message"]
