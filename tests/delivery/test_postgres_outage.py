"""PostgreSQL away for 30 s (a failover, a restart): the teacher is told, nothing is lost.

The bot reaches the server through a TCP proxy that can cut every connection and refuse new ones,
like a server that went down. Time is simulated: the write-behind and the committer retry with
backoff on `SimulatedTime`, which brings the server back at 30 s.
"""

from __future__ import annotations

import asyncio
import contextlib
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.durability import Committer
from services.clock import FakeClock
from services.linking.in_process import RunningBackend
from services.storage.transient import Backoff
from tests.bot.helpers import Demo, reach_code
from tests.delivery.conftest import SimulatedTime
from tests.support.bot_app import make_bot_app

pytestmark = pytest.mark.postgres

CASE = "vkid_no_profile"
ALL_TIME = (datetime(2000, 1, 1, tzinfo=UTC), datetime(2100, 1, 1, tzinfo=UTC))
SORRY_RU = "Что-то пошло не так — попробуйте ещё раз."


class ServerSwitch:
    """A TCP proxy to PostgreSQL: `cut()` drops every connection and refuses new ones."""

    def __init__(self, host: str, port: int) -> None:
        self._target = (host, port)
        self._links: set[asyncio.StreamWriter] = set()
        self._server: asyncio.Server | None = None
        self.down = False
        self.port = 0

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def _accept(self, client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter):  # type: ignore[no-untyped-def]
        if self.down:
            client_w.transport.abort()  # like a server that is not there
            return
        server_r, server_w = await asyncio.open_connection(*self._target)
        self._links.update((client_w, server_w))
        await asyncio.gather(self._pipe(client_r, server_w), self._pipe(server_r, client_w))

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        except (ConnectionError, OSError):
            pass
        finally:
            self._links.discard(writer)
            writer.transport.abort()

    def cut(self) -> None:
        self.down = True
        for writer in list(self._links):
            writer.transport.abort()
        self._links.clear()

    def restore(self) -> None:
        self.down = False

    async def close(self) -> None:
        self.cut()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()


async def test_postgres_away_for_30_seconds_teacher_told_nothing_lost(
    tmp_path: Path, backend: RunningBackend, clock: FakeClock, postgres_url: str
) -> None:
    switch = ServerSwitch("127.0.0.1", 5432)
    await switch.start()
    url = postgres_url.replace("@127.0.0.1:5432/", f"@127.0.0.1:{switch.port}/")
    assert url != postgres_url
    time = SimulatedTime()
    backoff = Backoff(initial=2.0, maximum=10.0)
    try:
        async with make_bot_app(
            tmp_path,
            backend.url,
            clock=clock,
            database_url=url,
            writer_options={"sleep": time.sleep, "backoff": backoff},
        ) as app:
            demo = await Demo.load(app.linking)
            teacher = app.teacher(803)
            await reach_code(teacher, demo)
            await app.sessions.flush()

            switch.cut()
            time.at(30.0, switch.restore)
            # The code goes through the backend; saving her new step finds no database.
            with contextlib.suppress(Exception):
                await teacher.send(await demo.last_code(CASE))
            assert SORRY_RU in [m.text for m in teacher.bot_messages()[-2:]]  # she is told

            commit = Committer(
                [("write-behind", app.sessions.flush), ("dialog states", app.storage.flush)],  # type: ignore[union-attr]
                sleep=time.sleep,
                backoff=backoff,
            )
            await commit()  # what the polling loop does before confirming the update
            assert time.now >= 30.0
            assert app.sessions.writer.retries + commit.retries > 0  # it did wait for the server

            await teacher.click("Попробовать ещё раз")
            assert "Напишите ваши настоящие ФИО" in teacher.last_text
            await app.restart()  # a new process reads only what reached the database
            await teacher.send("Кузнецов Андрей Сергеевич")
            assert "дату рождения" in teacher.last_text  # her step survived
            record = await app.sessions.get(803)
            assert record is not None and record.step == "Link:birth_date"
            steps = [e.step for e in await app.sessions.events(*ALL_TIME) if e.kind == "step"]
            assert steps[-3:] == ["Link:code", "Link:full_name", "Link:birth_date"]  # none lost
    finally:
        await switch.close()
