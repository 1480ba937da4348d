"""Running the bot's production commands as real processes: migrate, set-webhook, replicas.

Each command is `python -m bot …` in a child process, configured only through the environment
(the way compose.yaml configures the containers), with JSON logs read from its stderr. A replica
listens on a free port; its "webhook listening on host:port/path" line says which.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import signal
import sys
from collections.abc import AsyncIterator, Awaitable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import SecretStr

from bot.config import Settings

# A deadline, not an expectation: a process starts in ~10 s, but importing the bot alone took
# 23 s on a 2-CPU machine at load average 8 (CI machines are shared too).
START_SECONDS = 180.0
# The commands compose.yaml runs (tests/deploy/test_compose.py checks that it runs no other).
MIGRATE = ("migrate",)
SET_WEBHOOK = ("set-webhook",)
SERVE_WEBHOOK = ("--webhook",)
PROBE_MODULE = "bot.observability.probe"  # health checks: `python -m <it> URL`
LISTENING = re.compile(r"^webhook listening on [^:]+:(\d+)(/\S*)$")


def settings_env(settings: Settings, **overrides: Any) -> dict[str, str]:
    """The environment that makes `Settings()` in a child process equal to `settings`."""
    values = {**settings.model_dump(), **overrides}
    env = {
        key: value
        for key, value in os.environ.items()
        if key.upper() not in {name.upper() for name in Settings.model_fields}
    }
    for name, value in values.items():
        if value is None:
            continue
        if isinstance(value, SecretStr):
            value = value.get_secret_value()
        env[name.upper()] = json.dumps(value) if isinstance(value, list) else str(value)
    return env


def parse_line(raw: bytes) -> dict[str, Any]:
    text = raw.decode("utf-8", "replace").rstrip("\n")
    try:
        line = json.loads(text)
    except ValueError:
        return {"message": text, "level": "RAW"}
    return line if isinstance(line, dict) else {"message": text, "level": "RAW"}


async def run_command(
    args: list[str], env: Mapping[str, str], cwd: Path, *, module: str = "bot"
) -> tuple[int, list]:
    """`python -m <module> <args>` to its end: (exit code, its log lines)."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        module,
        *args,
        env=dict(env),
        cwd=cwd,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        _, stderr = await asyncio.wait_for(process.communicate(), START_SECONDS)
    except BaseException:  # timed out or cancelled: never leave the process behind
        with contextlib.suppress(ProcessLookupError):
            process.kill()
        await process.wait()
        raise
    lines = [parse_line(raw) for raw in stderr.splitlines(keepends=True) if raw.strip()]
    return process.returncode or 0, lines


@dataclass
class Replica:
    """One `python -m bot --webhook` process."""

    name: str
    process: asyncio.subprocess.Process
    lines: list[dict[str, Any]] = field(default_factory=list)
    port: int = 0
    path: str = ""
    _reader: asyncio.Task[None] | None = None
    _listening: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}{self.path}"

    def messages(self) -> list[str]:
        return [str(line.get("message", "")) for line in self.lines]

    async def _read(self) -> None:
        assert self.process.stderr is not None
        async for raw in self.process.stderr:
            line = parse_line(raw)
            self.lines.append(line)
            match = LISTENING.match(str(line.get("message", "")))
            if match:
                self.port, self.path = int(match.group(1)), match.group(2)
                self._listening.set()

    async def listening(self) -> None:
        waiting = asyncio.create_task(self._listening.wait())
        exited = asyncio.create_task(self.process.wait())
        done, _ = await asyncio.wait(
            {waiting, exited}, timeout=START_SECONDS, return_when=asyncio.FIRST_COMPLETED
        )
        waiting.cancel()
        exited.cancel()
        if waiting not in done:
            raise AssertionError(f"replica {self.name} did not start: {self.messages()[-20:]}")

    def kill(self) -> None:
        """SIGKILL: no drain, no flush, no goodbye."""
        self.process.send_signal(signal.SIGKILL)

    async def stop(self) -> int:
        """SIGTERM, then the exit code (the graceful path)."""
        if self.process.returncode is None:
            self.process.send_signal(signal.SIGTERM)
        code = await asyncio.wait_for(self.process.wait(), START_SECONDS)
        if self._reader is not None:
            await self._reader
        return code


async def start_replica(name: str, env: Mapping[str, str], cwd: Path) -> Replica:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        *SERVE_WEBHOOK,
        env=dict(env),
        cwd=cwd,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    replica = Replica(name, process)
    replica._reader = asyncio.create_task(replica._read())
    try:
        await replica.listening()
    except BaseException:  # did not start, or the test gave up on it: kill it, not leak it
        await _kill(replica)
        raise
    return replica


@contextlib.asynccontextmanager
async def replicas(
    count: int, env: Mapping[str, str], cwd: Path, *, alongside: Awaitable[Any] | None = None
) -> AsyncIterator[list[Replica]]:
    """`count` replicas started at once (with `alongside`, e.g. set-webhook, run meanwhile);
    whichever still runs at the end is killed (tests stop them with SIGTERM themselves)."""
    starting = [
        asyncio.create_task(start_replica(f"replica-{index + 1}", env, cwd))
        for index in range(count)
    ]
    started: list[Replica] = []
    try:
        if alongside is not None:
            await alongside
        started.extend([await task for task in starting])
        yield started  # the test may add replicas it started itself: they are killed too
    finally:
        for task in starting:
            if not task.done():
                task.cancel()
            elif not task.cancelled() and task.exception() is None and task.result() not in started:
                started.append(task.result())
        for replica in started:
            await _kill(replica)


async def _kill(replica: Replica) -> None:
    if replica.process.returncode is None:
        with contextlib.suppress(ProcessLookupError):
            replica.process.send_signal(signal.SIGKILL)
        await replica.process.wait()
    if replica._reader is not None:
        await replica._reader
