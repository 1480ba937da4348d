"""`python -m bot` without a token: the sandbox's stage and the unmodified bot in one process.

The stage (services/sandbox) knows nothing of the bot; this composition root points the bot's
settings at it: the emulator as Telegram, the demo backend, a fresh database, no Redis.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass

from pydantic import SecretStr

from bot.app import run_polling
from bot.config import Settings
from services.sandbox.people import SANDBOX_BOT_TOKEN
from services.sandbox.stage import Stage, start_stage


@dataclass
class Sandbox(Stage):
    """A running stage and the settings the bot must run with on it."""

    bot_settings: Settings


def bot_settings_for(stage: Stage, settings: Settings) -> Settings:
    """`settings` pointed at the stage."""
    return settings.model_copy(
        update={
            "bot_token": SecretStr(stage.bot_token),
            "telegram_api_url": stage.url,
            "linking_api_url": stage.backend_url,
            "linking_api_key": None,
            "helpdesk_chat_id": stage.cast.helpdesk_chat_id,
            # A fresh bot database each run: the emulated chats and demo data are fresh too.
            "database_url": f"sqlite+aiosqlite:///{stage.state_dir}/bot.sqlite3",
            "redis_url": None,
            "mesh_journal_url": f"{stage.url}/#mesh",
            "admin_ids": [operator["id"] for operator in stage.cast.operators],
        }
    )


@contextlib.asynccontextmanager
async def start_sandbox(
    settings: Settings, *, bot_token: str = SANDBOX_BOT_TOKEN
) -> AsyncIterator[Sandbox]:
    """Start the stage on `settings.sandbox_host:sandbox_port` (0 picks a free port); the bot is
    not started here: run `bot.app.run_polling(sandbox.bot_settings)` to connect it."""
    async with start_stage(
        settings.sandbox_host, settings.sandbox_port, bot_token=bot_token
    ) as stage:
        yield Sandbox(**vars(stage), bot_settings=bot_settings_for(stage, settings))


async def run_sandbox(settings: Settings) -> None:
    """Run the whole product locally until cancelled (Ctrl+C), printing the page's address."""
    async with start_sandbox(settings) as sandbox:
        print(f"Sferum sandbox is running: {sandbox.url}", flush=True)
        await run_polling(sandbox.bot_settings, create_tables=True)
