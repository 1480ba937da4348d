"""Liveness and readiness: is the process alive, and can it do its job right now?

Readiness runs every check concurrently, each bounded by `timeout`: the bot's database, Redis
(when configured) and the linking backend. A draining process (SIGTERM received) is not ready, so
a load balancer stops sending it work while it finishes what it has.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from services.linking_client import LinkingClient

Check = Callable[[], Awaitable[None]]  # returns when healthy, raises otherwise
DEFAULT_TIMEOUT = 3.0


@dataclass
class Health:
    checks: Mapping[str, Check]
    timeout: float = DEFAULT_TIMEOUT
    draining: bool = field(default=False)

    async def _run(self, check: Check) -> str:
        try:
            await asyncio.wait_for(check(), self.timeout)
        except TimeoutError:
            return f"timed out after {self.timeout:g} s"
        except Exception as error:
            return f"{type(error).__name__}: {error}"[:200]
        return "ok"

    async def readiness(self) -> tuple[bool, dict[str, str]]:
        """(ready, the result of each check by name)."""
        names = list(self.checks)
        results = await asyncio.gather(*(self._run(self.checks[n]) for n in names))
        report = dict(zip(names, results, strict=True))
        if self.draining:
            report["shutdown"] = "draining"
        return all(r == "ok" for r in report.values()), report


def database_check(engine: AsyncEngine) -> Check:
    async def check() -> None:
        async with engine.connect() as connection:
            await connection.execute(text("SELECT 1"))

    return check


def redis_check(redis: Any) -> Check:
    async def check() -> None:
        if not await redis.ping():
            raise ConnectionError("PING was not answered")

    return check


def backend_check(linking: LinkingClient) -> Check:
    async def check() -> None:
        if not await linking.health():
            raise ConnectionError("the backend's /health is not ok")

    return check
