"""SIGKILL of a real bot process while the teacher's update is in flight, then a restart.

`python -m bot --polling` runs as a child process against the sandbox (its Bot API emulator and
demo backend, served by this test). Between the bot and the backend sits a proxy that lets the
teacher's code through to the backend — the code is verified there — and then holds the answer
back. Once the backend has done it, the test kills the bot (SIGKILL: no cleanup at all). The
update was never confirmed, so the restarted bot gets it again; the backend says the step is done,
and the teacher sees the next window. Every wait is on an event (the proxy saw the call, the
emulator shows a message); no sleeps.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from bot.config import Settings
from bot.sandbox import Sandbox, start_sandbox
from tests.sandbox.live import Live, TeacherDriver, text_of

STARTUP_SECONDS = 60.0  # a cold interpreter on a busy CI machine
_HOP_BY_HOP = {"host", "content-length", "transfer-encoding", "connection", "keep-alive"}


class HoldingProxy:
    """Forwards everything to the backend; holds the answer of the first code verification."""

    def __init__(self, target: str) -> None:
        self.target = target.rstrip("/")
        self.verifications: list[int] = []  # HTTP statuses the backend answered
        self.effect_done = asyncio.Event()
        self.holding = True
        self._forever = asyncio.Event()
        self._http: aiohttp.ClientSession | None = None

    async def handle(self, request: web.Request) -> web.StreamResponse:
        assert self._http is not None
        headers = {k: v for k, v in request.headers.items() if k.lower() not in _HOP_BY_HOP}
        async with self._http.request(
            request.method,
            self.target + request.path_qs,
            data=await request.read(),
            headers=headers,
        ) as answer:
            body, status, kind = await answer.read(), answer.status, answer.content_type
        if request.method == "POST" and request.path.endswith("/code/verify"):
            self.verifications.append(status)
            if self.holding:
                self.holding = False
                self.effect_done.set()
                await self._forever.wait()  # the bot is killed while waiting for this answer
        return web.Response(body=body, status=status, content_type=kind)

    @contextlib.asynccontextmanager
    async def serving(self) -> AsyncIterator[str]:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self.handle)
        runner = web.AppRunner(app, shutdown_timeout=0.5)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        async with aiohttp.ClientSession() as http:
            self._http = http
            try:
                yield f"http://127.0.0.1:{port}"
            finally:
                self._forever.set()
                await runner.cleanup()


class _Idle:
    """The page drivers wait for an in-process bot to be idle; this bot is another process."""

    async def idle(self, newest_sent: Any) -> None:
        return None


def bot_environment(sandbox: Sandbox, linking_url: str, database: Path) -> dict[str, str]:
    settings = sandbox.bot_settings
    environment = {k: v for k, v in os.environ.items() if k.upper() not in _SETTING_NAMES}
    environment.update(
        {
            "BOT_TOKEN": settings.bot_token.get_secret_value(),  # type: ignore[union-attr]
            "TELEGRAM_API_URL": settings.telegram_api_url,
            "LINKING_API_URL": linking_url,
            "LINKING_TIMEOUT": "120",
            "DATABASE_URL": f"sqlite+aiosqlite:///{database}",
            "HELPDESK_CHAT_ID": str(settings.helpdesk_chat_id),
            "ADMIN_IDS": json.dumps(settings.admin_ids),
            "MESH_JOURNAL_URL": settings.mesh_journal_url,
        }
    )
    return environment


_SETTING_NAMES = {name.upper() for name in Settings.model_fields}


async def start_bot(
    environment: dict[str, str], workdir: Path, log: Path
) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        "--polling",
        env=environment,
        cwd=workdir,  # no stray .env is read
        stdout=asyncio.subprocess.DEVNULL,
        stderr=log.open("ab"),
    )


async def wait_for_screen(live: Live, teacher: TeacherDriver, fragment: str) -> dict[str, Any]:
    def check():  # type: ignore[no-untyped-def]
        screen = teacher.screen()
        return screen if screen and fragment in text_of(screen) else None

    with live.world.events.subscribe() as changes:
        async with asyncio.timeout(STARTUP_SECONDS):
            while (found := check()) is None:
                await changes.get()
    return found


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
async def test_sigkill_mid_update_then_restart_handles_it_once_and_shows_the_next_window(
    tmp_path: Path,
) -> None:
    log = tmp_path / "bot.log"
    async with (
        start_sandbox(Settings(_env_file=None, sandbox_port=0)) as sandbox,
        aiohttp.ClientSession() as http,
    ):
        proxy = HoldingProxy(sandbox.backend_url)
        async with proxy.serving() as proxy_url:
            environment = bot_environment(sandbox, proxy_url, tmp_path / "bot.sqlite3")
            live = Live(sandbox, http, _Idle())  # type: ignore[arg-type]
            teacher = live.teacher("vkid_no_profile")
            first = await start_bot(environment, tmp_path, log)
            try:
                await asyncio.wait_for(sandbox.world.updates.poller_waiting(), STARTUP_SECONDS)
                await teacher.opens_from_journal()
                await teacher.press("Начнём")
                await teacher.press("VPN выключен")
                await teacher.press("Нет")
                await teacher.shares_contact()
                await teacher.press("Создать учебный профиль")
                await teacher.sees("Пароль от VK ID")
                await teacher.says(teacher.teacher.vk_password)
                await teacher.sees("Подтвердите вход")
                await teacher.says(await teacher.reads_code("call"))

                await asyncio.wait_for(proxy.effect_done.wait(), STARTUP_SECONDS)
                first.send_signal(signal.SIGKILL)  # the code is verified on the backend
                assert await first.wait() == -signal.SIGKILL
            finally:
                if first.returncode is None:
                    first.kill()
                    await first.wait()

            assert "ФИО" not in text_of(teacher.screen() or {})  # she got no answer
            assert sandbox.world.updates.pending_count == 1  # and it was never confirmed

            second = await start_bot(environment, tmp_path, log)
            try:
                screen = await wait_for_screen(live, teacher, "Напишите ваши настоящие ФИО")
                assert "Этот шаг уже пройден" in text_of(screen)
                assert "⚠️" not in text_of(screen)
                # Handled once: the backend verified the code once; the replay was told
                # «already done» (409), which made the bot follow the backend.
                assert proxy.verifications == [200, 409]
                answers = [m for m in teacher.bot_messages() if "ФИО" in text_of(m)]
                assert len(answers) == 1

                await teacher.says("Кузнецов Андрей Сергеевич")  # and she simply goes on
                await wait_for_screen(live, teacher, "дату рождения")
                second.send_signal(signal.SIGTERM)
                assert await asyncio.wait_for(second.wait(), STARTUP_SECONDS) == 0
            finally:
                if second.returncode is None:
                    second.kill()
                    await second.wait()
            assert sandbox.world.updates.pending_count == 0  # all confirmed on the way out
