"""Secrets required outside demo, no codes or ids where they do not belong, hostile input."""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import sys
import threading
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web
from sqlalchemy import select

from services.clock import FakeClock
from services.linking.api import BACKEND
from services.linking.app import RouteAccessLogger, create_app
from services.linking.in_process import LIGHT_KDF, RunningBackend, serve_backend
from services.linking.models import Challenge, Delivery, MeshAccount, VkAccount
from services.linking.passwords import PasswordHashing, PasswordPolicy, normalize_password
from services.linking.settings import InsecureSettings, LinkingSettings
from services.phones import normalize_ru_phone
from tests.linking.http_api import Api, api_session

ROOT = Path(__file__).resolve().parents[2]
KEY = "an-api-key-of-the-bot-" + "k" * 20
# The demo's number of the "no VK ID" teacher, spelt with Arabic-Indic and full-width digits.
ARABIC_INDIC = "+79" + "".join(chr(0x0660 + int(d)) for d in "161234501")
FULL_WIDTH = "+79" + "".join(chr(0xFF10 + int(d)) for d in "161234501")


# --------------------------------------------------------------------------- secrets


@pytest.mark.parametrize(
    ("api_key", "token_secret", "named"),
    [
        (None, None, ["LINKING_API_KEY", "LINKING_TOKEN_SECRET"]),
        (KEY, None, ["LINKING_TOKEN_SECRET"]),
        (None, "s" * 40, ["LINKING_API_KEY"]),
        ("short", "s" * 40, ["LINKING_API_KEY"]),
    ],
)
def test_outside_demo_the_backend_refuses_to_start_without_its_secrets(
    api_key: str | None, token_secret: str | None, named: list[str]
) -> None:
    settings = LinkingSettings(_env_file=None, api_key=api_key, token_secret=token_secret)
    with pytest.raises(InsecureSettings) as refused:
        create_app(settings, demo=False)
    for name in named:
        assert name in str(refused.value)
    assert "secrets.token_urlsafe" in str(refused.value)  # how to make one
    create_app(settings, demo=True)  # the demo runs without them


def test_outside_demo_the_backend_starts_with_its_secrets() -> None:
    create_app(LinkingSettings(_env_file=None, api_key=KEY, token_secret="s" * 40), demo=False)


async def test_the_command_refuses_to_start_with_a_clear_message(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LINKING_")}
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "services.linking",
        "--database-url",
        f"sqlite+aiosqlite:///{tmp_path / 'linking.sqlite3'}",
        cwd=ROOT,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output = (await asyncio.wait_for(process.communicate(), 60))[0].decode()
    assert process.returncode != 0
    assert "refuses to start" in output and "LINKING_API_KEY is not set" in output


# --------------------------------------------------------------------------- what is kept


async def test_outside_demo_codes_exist_only_as_digests() -> None:
    overrides = {"api_key": KEY}
    async with serve_backend(demo=False, settings_overrides=overrides) as backend:
        state = backend.app[BACKEND]
        async with state.transaction() as (session, _now):
            session.add(
                MeshAccount(
                    id="mesh-1", full_name="Смирнова Ольга", school="Школа", phone="+79161234501"
                )
            )
        headers = {"Authorization": f"Bearer {KEY}", "X-End-User-Id": "7"}
        async with aiohttp.ClientSession(backend.url, headers=headers) as session:
            async with session.post("/v1/link-tokens", json={"mesh_account_id": "mesh-1"}) as r:
                token = (await r.json())["token"]
            async with session.post("/v1/flows", json={"token": token}) as r:
                flow = await r.json()
            async with session.post(
                f"/v1/flows/{flow['flow_id']}/phone", json={"phone": "+79161234501"}
            ) as r:
                assert (await r.json())["state"] == "code"  # a call went out
        async with state.db.transaction() as session:
            [delivery] = list(await session.scalars(select(Delivery)))
            [challenge] = list(await session.scalars(select(Challenge)))
    assert (delivery.channel, delivery.destination) == ("call", "+79161234501")
    assert delivery.code is None and delivery.text is None
    assert challenge.code_digest is not None and len(challenge.code_digest) == 64


@pytest.fixture
async def logged_backend(clock: FakeClock, tmp_path: Path) -> AsyncIterator[str]:
    """The demo backend with its access log on, as `python -m services.linking` runs it."""
    settings = LinkingSettings(
        _env_file=None,
        database_url=f"sqlite+aiosqlite:///{tmp_path / 'linking.sqlite3'}",
        token_secret="t" * 40,
        **LIGHT_KDF,
    )
    runner = web.AppRunner(
        create_app(settings, clock=clock, demo=True),
        access_log_class=RouteAccessLogger,
        access_log=logging.getLogger("aiohttp.access"),
    )
    await runner.setup()
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    await web.SockSite(runner, sock).start()
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        await runner.cleanup()
        sock.close()


async def test_logs_name_routes_never_flow_or_recovery_ids_or_phones(
    logged_backend: str, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)  # as the backend runs (libraries' DEBUG dumps SQL)
    async with api_session(logged_backend) as session:
        api = Api(session, clock)
        teacher, flow = await api.flow_at_code("vkid_no_profile")
        await api.call("POST", f"/v1/flows/{flow['flow_id']}/code/verify", {"code": "0000"})
        flow = await api.enter_code(flow, teacher["phone"])
        recovery = await api.ok("POST", "/v1/recoveries", {"phone": teacher["phone"]}, status=201)
        await api.call("GET", f"/v1/recoveries/{recovery['recovery_id']}")
        await api.call("GET", f"/v1/flows/{flow['flow_id']}/no-such-step")
    text = caplog.text
    assert "POST /v1/flows/{flow_id}/phone 200" in text
    assert "GET /v1/recoveries/{recovery_id} 200" in text
    assert "(no route)" in text
    for secret in (flow["flow_id"], recovery["recovery_id"], teacher["phone"][2:]):
        assert secret not in text


# --------------------------------------------------------------------------- hostile input


async def test_deeply_nested_json_is_a_bad_request_on_every_route(api: Api) -> None:
    _teacher, flow = await api.flow_at_code("vkid_no_profile")
    routes = [
        "/v1/link-tokens",
        "/v1/flows",
        f"/v1/flows/{flow['flow_id']}/phone",
        f"/v1/flows/{flow['flow_id']}/code/verify",
        "/v1/recoveries",
        "/v1/mesh-accounts/mesh-1002/phone",
        "/dev/vpn",
    ]
    # Within the 64 KiB body limit, far beyond any parser's stack.
    for body in ("[" * 30_000 + "]" * 30_000, '{"a":' * 10_000 + "1" + "}" * 10_000):
        for route in routes:
            headers = {"Content-Type": "application/json"}
            async with api.session.post(route, data=body.encode(), headers=headers) as response:
                answer = await response.json()
            assert (response.status, answer["error"]["code"]) == (400, "bad_request"), route
    assert await api.get_flow(flow["flow_id"]) == flow


async def test_phone_numbers_with_other_digits_are_one_number(
    api: Api, backend: RunningBackend
) -> None:
    assert normalize_ru_phone(ARABIC_INDIC) == normalize_ru_phone(FULL_WIDTH) == "+79161234501"
    teacher = await api.teacher("no_vkid")  # her number has no VK ID yet
    flow = await api.start_flow(teacher["mesh_account_id"])
    for spelling in (ARABIC_INDIC, FULL_WIDTH):
        await api.refused(
            "POST", f"/v1/flows/{flow['flow_id']}/phone", {"phone": spelling}, "phone_invalid", 422
        )
        await api.refused("POST", "/v1/recoveries", {"phone": spelling}, "phone_invalid", 422)
        await api.refused(
            "POST",
            f"/v1/mesh-accounts/{teacher['mesh_account_id']}/phone",
            {"phone": spelling},
            "phone_invalid",
            422,
        )
    # Registering with the canonical number gives one VK ID for it, and only one.
    flow = await api.step(flow["flow_id"], "phone", {"phone": teacher["phone"]})
    flow = await api.enter_code(flow, teacher["phone"])
    data = {"full_name": teacher["full_name"], "birth_date": "1979-04-12", "gender": "female"}
    flow = await api.step(flow["flow_id"], "personal-data", data)
    assert (await api.step(flow["flow_id"], "consent", {"decision": "link"}))["state"] == "linked"
    async with backend.app[BACKEND].db.transaction() as session:
        phones = list(await session.scalars(select(VkAccount.phone)))
    assert [normalize_ru_phone(phone) for phone in phones].count(teacher["phone"]) == 1
    assert all(phone.isascii() for phone in phones)


def test_passwords_are_normalised_before_the_policy() -> None:
    assert normalize_password("Pa\u200bss\u200dword\ufeff1!") == "Password1!"
    assert normalize_password("Ｐａｓｓｗｏｒｄ１！") == "Password1!"
    assert normalize_password("e\u0301") == "\u00e9"  # composed and decomposed are one
    policy = PasswordPolicy(LinkingSettings(_env_file=None))
    assert policy.unmet("Aa1!" + "\u200b" * 10) == ["min_length"]  # invisible is not length
    assert policy.unmet("Ｎｏｖｙｉ＃Ｐａｒｏｌ２０２６") == []


async def test_a_password_with_invisible_characters_opens_the_same_vk_id(api: Api) -> None:
    teacher = await api.teacher("forgot_password_email")
    recovery = await api.ok("POST", "/v1/recoveries", {"phone": teacher["phone"]}, status=201)
    rec = f"/v1/recoveries/{recovery['recovery_id']}"
    await api.ok("POST", f"{rec}/code/verify", {"code": await api.last_code(teacher["phone"])})
    await api.ok("POST", f"{rec}/confirm", {"confirmed": True})
    await api.ok("POST", f"{rec}/method", {"method": "email"})
    await api.ok(
        "POST", f"{rec}/method/verify", {"code": await api.last_email_code(teacher["email"])}
    )
    pasted = "Novyi#\u200bParol2026\u2060"  # as a messenger may paste it
    await api.ok("POST", f"{rec}/password", {"password": pasted})
    await api.ok(
        "POST",
        f"{rec}/password/confirm",
        {"password": "Novyi#Parol2026", "logout_other_sessions": True},
    )
    for typed in ("Novyi#Parol2026", "Ｎｏｖｙｉ＃Ｐａｒｏｌ２０２６"):
        flow = await api.start_flow(teacher["mesh_account_id"])
        flow = await api.step(flow["flow_id"], "phone", {"phone": teacher["phone"]})
        assert flow["state"] == "password"
        flow = await api.step(flow["flow_id"], "password", {"password": typed})
        assert flow["state"] == "code"
        flow = await api.enter_code(flow, teacher["phone"])


async def test_argon2_runs_in_a_bounded_pool_never_on_the_event_loop() -> None:
    settings = LinkingSettings(_env_file=None, **LIGHT_KDF, password_hash_concurrency=2)
    hashing = PasswordHashing(settings)
    loop_thread = threading.get_ident()
    lock, active, peak, threads = threading.Lock(), [0], [0], set()
    real = hashing.hash_blocking

    def observed(password: str) -> str:
        with lock:
            active[0] += 1
            peak[0] = max(peak[0], active[0])
            threads.add(threading.get_ident())
        try:
            return real(password)
        finally:
            with lock:
                active[0] -= 1

    hashing.hash_blocking = observed  # type: ignore[method-assign]
    try:
        hashes = await asyncio.gather(*(hashing.hash(f"Pass#{n}word") for n in range(12)))
        assert all(
            await asyncio.gather(
                *(hashing.verify(h, f"Pass#{n}word") for n, h in enumerate(hashes))
            )
        )
    finally:
        hashing.close()
    assert loop_thread not in threads
    assert 1 <= peak[0] <= settings.password_hash_concurrency
    assert len(threads) <= settings.password_hash_concurrency
