"""The page's API obeys only the page: another site's requests are refused, and an exposed bind
is announced loudly. Each test attacks the way a hostile web page (or a rebound hostname) would.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator

import aiohttp
import pytest

from bot.config import Settings
from bot.sandbox import Sandbox, start_sandbox
from services.sandbox.guard import allowed_hosts, is_loopback, warn_if_exposed


@pytest.fixture
async def sandbox() -> AsyncIterator[Sandbox]:
    async with start_sandbox(Settings(_env_file=None, sandbox_port=0)) as running:
        yield running


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


def messages_in(sandbox: Sandbox, user_id: int) -> int:
    chat = sandbox.world.chats.get(user_id)
    return 0 if chat is None else len(chat.messages)


async def test_a_cross_origin_post_is_refused_and_sends_nothing(sandbox, http):
    teacher = sandbox.cast.teachers[0]
    body = {"user_id": teacher.user_id, "text": "/start"}
    for headers in (
        {"Origin": "http://evil.example"},
        {"Origin": "null"},  # a sandboxed iframe or a file:// page
        {"Origin": "http://127.0.0.1:1"},  # another local port is another origin
        {"Sec-Fetch-Site": "cross-site"},
        {"Sec-Fetch-Site": "same-site"},
    ):
        async with http.post(f"{sandbox.url}/api/messages", json=body, headers=headers) as reply:
            assert reply.status == 403, headers
            assert await reply.json() == {"error": "cross-origin requests are refused"}
    assert messages_in(sandbox, teacher.user_id) == 0
    assert sandbox.world.updates.last_update_id == 0


async def test_an_html_form_post_is_refused_without_an_effect(sandbox, http):
    """A plain <form> can only send form-encoded, multipart or text/plain bodies."""
    teacher = sandbox.cast.teachers[0]
    url = f"{sandbox.url}/api/messages"
    form = aiohttp.FormData({"user_id": str(teacher.user_id), "text": "/start"})
    multipart = aiohttp.FormData({"user_id": str(teacher.user_id), "text": "/start"})
    multipart.add_field("file", b"x", filename="x.txt")
    json_as_text = f'{{"user_id": {teacher.user_id}, "text": "/start"}}'
    for data, headers in (
        (form, {}),
        (multipart, {}),
        (json_as_text, {"Content-Type": "text/plain"}),
        (json_as_text, {}),
    ):
        async with http.post(url, data=data, headers=headers) as reply:
            assert reply.status == 415
    async with http.post(f"{sandbox.url}/api/demo/reset", data=form) as reply:
        assert reply.status == 415
    assert messages_in(sandbox, teacher.user_id) == 0
    assert len(sandbox.cast.teachers) == 9


async def test_another_site_cannot_read_the_codes(sandbox, http):
    teacher = sandbox.cast.teachers[1]
    phone = f"{sandbox.url}/api/phone/{teacher.user_id}"
    async with http.get(phone, headers={"Sec-Fetch-Site": "cross-site"}) as reply:
        assert reply.status == 403
    async with http.get(
        f"{sandbox.url}/api/events", headers={"Origin": "http://evil.example"}
    ) as reply:
        assert reply.status == 403


async def test_a_rebound_hostname_is_refused(sandbox, http):
    """DNS rebinding: evil.example resolves to 127.0.0.1, so the browser calls it same-origin."""
    for path in ("/", "/api/state", f"/api/phone/{sandbox.cast.teachers[0].user_id}"):
        headers = {"Host": "evil.example:8080", "Sec-Fetch-Site": "same-origin"}
        async with http.get(f"{sandbox.url}{path}", headers=headers) as reply:
            assert reply.status == 403, path
    port = sandbox.url.rsplit(":", 1)[1]
    async with http.get(f"{sandbox.url}/api/state", headers={"Host": f"localhost:{port}"}) as reply:
        assert reply.status == 200


async def test_the_page_itself_is_obeyed(sandbox, http):
    teacher = sandbox.cast.teachers[0]
    headers = {"Origin": sandbox.url, "Sec-Fetch-Site": "same-origin"}
    body = {"user_id": teacher.user_id, "text": "Привет"}
    async with http.post(f"{sandbox.url}/api/messages", json=body, headers=headers) as reply:
        assert reply.status == 200
    assert messages_in(sandbox, teacher.user_id) == 1
    # The bot's own Bot API keeps Telegram's rules (form-encoded calls are normal there).
    token = sandbox.bot_settings.bot_token.get_secret_value()
    async with http.post(f"{sandbox.url}/bot{token}/getMe", data={"x": "1"}) as reply:
        assert reply.status == 200


def test_loopback_is_told_from_everything_else():
    for host in ("127.0.0.1", "127.1.2.3", "::1", "[::1]", "localhost", "LOCALHOST"):
        assert is_loopback(host), host
    for host in ("0.0.0.0", "", "::", "192.168.1.5", "sandbox.school.ru", "10.0.0.1"):
        assert not is_loopback(host), host
    assert allowed_hosts("0.0.0.0") is None
    assert allowed_hosts("192.168.1.5") == {"localhost", "127.0.0.1", "::1", "192.168.1.5"}


@pytest.mark.parametrize("host", ["0.0.0.0", "192.168.1.5", "sandbox.school.ru"])
def test_an_exposed_bind_warns_in_the_log_and_on_the_terminal(host, caplog, capsys):
    caplog.set_level(logging.INFO, logger="services.sandbox")
    assert warn_if_exposed(host, "http://127.0.0.1:8080") is True
    [record] = caplog.records
    assert record.levelno == logging.WARNING and "act as any demo teacher" in record.getMessage()
    assert capsys.readouterr().err.startswith("WARNING: the sandbox listens on")


def test_loopback_bind_is_quiet(caplog, capsys):
    caplog.set_level(logging.DEBUG, logger="services.sandbox")
    assert warn_if_exposed("127.0.0.1", "http://127.0.0.1:8080") is False
    assert caplog.records == [] and capsys.readouterr().err == ""
