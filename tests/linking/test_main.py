"""`python -m services.linking --demo` starts on its own and answers /health."""

from __future__ import annotations

import asyncio
import socket
import sys
from pathlib import Path

import aiohttp

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


async def test_module_runs_alone_in_demo_mode(tmp_path: Path) -> None:
    port = free_port()
    database = tmp_path / "linking.sqlite3"
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "services.linking",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--demo",
        "--database-url",
        f"sqlite+aiosqlite:///{database}",
        cwd=ROOT,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        async with aiohttp.ClientSession(url) as session:
            health = None
            # Readiness polling of a separate process (bounded: ~15 s).
            for _ in range(150):
                assert process.returncode is None, await process.stdout.read()
                try:
                    async with session.get("/health") as response:
                        health = await response.json()
                        break
                except aiohttp.ClientConnectionError:
                    await asyncio.sleep(0.1)
            assert health == {"status": "ok"}
            async with session.get("/dev/accounts") as response:
                accounts = await response.json()
            assert {account["case"] for account in accounts} >= {"no_vkid", "vpn"}
            async with session.get("/dev/inbox", params={"phone": "+79161234501"}) as response:
                assert response.status == 200
        assert database.exists()
    finally:
        process.terminate()
        output = (await process.communicate())[0].decode()
    assert "GET /dev/inbox 200" in output
    assert "9161234501" not in output  # phones never appear unmasked in the logs
