"""The linking backend served in this process on loopback: the sandbox's stage, tests, benches.

    async with serve_backend(demo=True, clock=FakeClock(), settings_overrides={...}) as backend:
        backend.url     # http://127.0.0.1:<free port>
        backend.clock   # the clock the backend reads (a FakeClock unless one is given)
        backend.app     # the aiohttp Application

Each instance gets its own SQLite file in a temporary directory (removed afterwards) and, unless
overridden, a light argon2 profile so that seeding the demo stays fast. The KDF is still argon2id.
"""

from __future__ import annotations

import socket
import tempfile
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiohttp import web

from services.clock import Clock, FakeClock
from services.linking.app import create_app
from services.linking.settings import LinkingSettings

# argon2id with 1 MiB and one pass: a real KDF, cheap enough for hundreds of test hashes.
LIGHT_KDF: dict[str, Any] = {
    "password_hash_time_cost": 1,
    "password_hash_memory_cost": 1024,
    "password_hash_parallelism": 1,
}


@dataclass(frozen=True)
class RunningBackend:
    url: str
    clock: Clock
    app: web.Application
    settings: LinkingSettings


@asynccontextmanager
async def serve_backend(
    *,
    demo: bool = True,
    clock: Clock | None = None,
    settings_overrides: Mapping[str, Any] | None = None,
) -> AsyncIterator[RunningBackend]:
    """Run the backend over real HTTP on 127.0.0.1 and a free port until the block ends."""
    clock = clock if clock is not None else FakeClock()
    with tempfile.TemporaryDirectory(prefix="linking-backend-") as directory:
        database_url = f"sqlite+aiosqlite:///{Path(directory) / 'linking.sqlite3'}"
        values: dict[str, Any] = {
            "database_url": database_url,
            "token_secret": f"test-token-secret-{Path(directory).name}".ljust(32, "-"),
            **LIGHT_KDF,
            **(settings_overrides or {}),
        }
        settings = LinkingSettings(**values)
        app = create_app(settings, clock=clock, demo=demo)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
            site = web.SockSite(runner, sock)
            await site.start()
            yield RunningBackend(f"http://127.0.0.1:{port}", clock, app, settings)
        finally:
            await runner.cleanup()
            sock.close()
