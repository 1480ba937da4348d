"""The page's own API against the real demo backend: MESH page, phone, chat actions, events."""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator

import aiohttp
import pytest

from bot.config import Settings
from bot.sandbox import Sandbox, start_sandbox
from services.linking_client import LinkingClient, VpnDetected
from services.sandbox.people import SANDBOX_BOT_TOKEN


@pytest.fixture
async def sandbox() -> AsyncIterator[Sandbox]:
    async with start_sandbox(Settings(_env_file=None, sandbox_port=0)) as running:
        yield running


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


@pytest.fixture
async def backend(sandbox: Sandbox) -> AsyncIterator[LinkingClient]:
    async with LinkingClient(sandbox.backend_url) as client:
        yield client


def teacher_with_case(sandbox: Sandbox, case: str):
    return next(t for t in sandbox.cast.teachers if t.case == case)


async def get_json(http, url):
    async with http.get(url) as response:
        assert response.status == 200, await response.text()
        return await response.json()


async def post_json(http, url, body, status=200):
    async with http.post(url, json=body) as response:
        assert response.status == status, await response.text()
        return await response.json()


async def test_every_demo_account_is_a_teacher_with_a_telegram_user(sandbox, http):
    state = await get_json(http, f"{sandbox.url}/api/state")
    cases = {t["case"] for t in state["teachers"]}
    assert {"vkid_no_profile", "profile_exists", "forgot_password_email"} <= cases
    users = {t["user_id"] for t in state["teachers"]}
    assert len(users) == len(state["teachers"])
    assert all(uid in sandbox.world.users for uid in users)
    helpdesk = next(
        c for c in state["world"]["chats"] if c["chat"]["id"] == state["helpdesk_chat_id"]
    )
    assert helpdesk["chat"]["is_forum"] is True
    operator_ids = {op["id"] for op in state["operators"]}
    assert operator_ids <= {m["user"]["id"] for m in helpdesk["members"]}


async def test_settings_for_the_bot_point_at_the_sandbox(sandbox):
    settings = sandbox.bot_settings
    assert settings.telegram_api_url == sandbox.url
    assert settings.linking_api_url == sandbox.backend_url
    assert settings.helpdesk_chat_id == sandbox.cast.helpdesk_chat_id
    assert settings.bot_token.get_secret_value() == SANDBOX_BOT_TOKEN
    assert settings.database_url.startswith("sqlite+aiosqlite:///")


async def test_connect_sends_a_redeemable_deep_link_start(sandbox, http, backend):
    teacher = teacher_with_case(sandbox, "vkid_no_profile")
    result = await post_json(
        http, f"{sandbox.url}/api/teachers/{teacher.mesh_account_id}/connect", {}
    )
    assert result["user_id"] == teacher.user_id
    text = result["message"]["text"]
    assert text.startswith("/start ")
    update = (await sandbox.world.updates.get_updates(offset=None, limit=None, wait=0))[-1]
    assert update["message"]["from"]["id"] == teacher.user_id
    flow = await backend.for_user(teacher.user_id).start_flow(text.removeprefix("/start "))
    assert flow.mesh_account.id == teacher.mesh_account_id


async def test_phone_shows_the_call_reset_the_backend_delivered(sandbox, http, backend):
    teacher = teacher_with_case(sandbox, "vkid_no_profile")
    backend = backend.for_user(teacher.user_id)  # the bot's calls name the teacher
    token = await backend.dev_link_token(teacher.mesh_account_id)
    flow = await backend.start_flow(token.deep_link_payload or token.token)
    await backend.submit_phone(flow.flow_id, teacher.phone)
    await backend.submit_password(flow.flow_id, teacher.vk_password)

    phone = await get_json(http, f"{sandbox.url}/api/phone/{teacher.user_id}")
    assert phone["teacher"]["phone"] == teacher.phone
    call = phone["messages"][0]
    assert call["channel"] == "call" and len(call["code"]) == 4
    assert call["code"] in call["text"].replace(" ", "").replace("-", "")  # the calling number
    verified = await backend.verify_code(flow.flow_id, call["code"])
    assert verified.state == "personal_data"


async def test_totp_is_shown_for_the_authenticator_account(sandbox, http):
    teacher = teacher_with_case(sandbox, "forgot_password_app")
    phone = await get_json(http, f"{sandbox.url}/api/phone/{teacher.user_id}")
    assert phone["totp"] and phone["totp"].isdigit()
    other = teacher_with_case(sandbox, "vkid_no_profile")
    assert (await get_json(http, f"{sandbox.url}/api/phone/{other.user_id}"))["totp"] is None


async def test_phone_shows_the_codes_her_trusted_friends_got(sandbox, http, backend):
    teacher = teacher_with_case(sandbox, "forgot_password_friends")
    backend = backend.for_user(teacher.user_id)
    recovery = await backend.start_recovery(teacher.phone)
    sms = (await backend.dev_inbox(teacher.phone))[-1].code
    recovery = await backend.verify_recovery_code(recovery.recovery_id, sms)
    recovery = await backend.confirm_recovery_account(recovery.recovery_id, confirmed=True)
    recovery = await backend.choose_recovery_method(recovery.recovery_id, "friends")

    phone = await get_json(http, f"{sandbox.url}/api/phone/{teacher.user_id}")
    codes = [item for item in phone["messages"] if item["channel"] == "friend"]
    assert sorted(item["friend"] for item in codes) == sorted(f.name for f in recovery.friends)
    for item in sorted(
        codes, key=lambda item: [f.name for f in recovery.friends].index(item["friend"])
    ):
        recovery = await backend.verify_friend_code(recovery.recovery_id, item["code"])
    assert recovery.state == "new_password"
    without_vkid = teacher_with_case(sandbox, "no_vkid")  # no VK ID, no friends: no error
    assert (await get_json(http, f"{sandbox.url}/api/phone/{without_vkid.user_id}"))[
        "messages"
    ] == []


async def test_vpn_switch_reaches_the_backend(sandbox, http, backend):
    teacher = teacher_with_case(sandbox, "vkid_no_profile")
    answer = await post_json(
        http, f"{sandbox.url}/api/phone/{teacher.user_id}/vpn", {"enabled": True}
    )
    assert answer == {"enabled": True}
    backend = backend.for_user(teacher.user_id)
    token = await backend.dev_link_token(teacher.mesh_account_id)
    flow = await backend.start_flow(token.deep_link_payload or token.token)
    with pytest.raises(VpnDetected):
        await backend.submit_phone(flow.flow_id, teacher.phone)


async def test_event_stream_starts_with_state_then_follows_changes(sandbox, http):
    teacher = sandbox.cast.teachers[0]
    async with http.get(f"{sandbox.url}/api/events") as stream:
        assert stream.headers["Content-Type"].startswith("text/event-stream")

        async def next_data():
            while True:
                line = (await stream.content.readline()).decode()
                if line.startswith("data: "):
                    return json.loads(line.removeprefix("data: "))

        first = await next_data()
        assert first["type"] == "state" and first["teachers"]
        await post_json(
            http, f"{sandbox.url}/api/messages", {"user_id": teacher.user_id, "text": "Привет"}
        )
        events = [await next_data(), await next_data()]
    message = next(e for e in events if e["type"] == "message")
    assert message["message"]["text"] == "Привет"
    assert message["chat_id"] == teacher.user_id


async def test_contact_button_sends_the_teachers_own_phone(sandbox, http):
    teacher = sandbox.cast.teachers[0]
    message = await post_json(http, f"{sandbox.url}/api/contact", {"user_id": teacher.user_id})
    assert message["contact"]["phone_number"] == teacher.phone.lstrip("+")


async def test_photo_upload_and_download(sandbox, http):
    teacher = sandbox.cast.teachers[0]
    png = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x02\x00\x00\x00\x03" + b"\x00" * 8
    message = await post_json(
        http,
        f"{sandbox.url}/api/files",
        {
            "user_id": teacher.user_id,
            "filename": "ошибка.png",
            "mime_type": "image/png",
            "data": base64.b64encode(png).decode(),
        },
    )
    photo = message["photo"][-1]
    assert (photo["width"], photo["height"]) == (2, 3)
    async with http.get(f"{sandbox.url}/api/files/{photo['file_id']}") as response:
        assert response.headers["Content-Type"] == "image/png"
        assert await response.read() == png


async def test_operator_writes_in_a_topic_and_outsiders_cannot(sandbox, http):
    world = sandbox.world
    operator = sandbox.cast.operators[0]
    helpdesk = sandbox.cast.helpdesk_chat_id
    general = await post_json(
        http,
        f"{sandbox.url}/api/messages",
        {"user_id": operator["id"], "chat_id": helpdesk, "text": "/take"},
    )
    assert general["chat"]["id"] == helpdesk and "message_thread_id" not in general
    teacher = sandbox.cast.teachers[0]
    refused = await post_json(
        http,
        f"{sandbox.url}/api/messages",
        {"user_id": teacher.user_id, "chat_id": helpdesk, "text": "hi"},
        status=400,
    )
    assert refused == {"error": "Bad Request: chat not found"}
    assert len(world.chats[helpdesk].messages) == 1


async def test_faults_are_switched_over_http(sandbox, http):
    api = f"{sandbox.url}/api/faults"
    rules = await post_json(http, api, {"kind": "retry_after", "method": "getMe", "retry_after": 2})
    assert rules[0]["kind"] == "retry_after"
    async with http.post(f"{sandbox.url}/bot{SANDBOX_BOT_TOKEN}/getMe") as response:
        assert response.status == 429
        assert (await response.json())["parameters"] == {"retry_after": 2}
    await post_json(http, api, {"kind": "server_error", "method": "*", "times": None})
    async with http.delete(api) as response:
        assert await response.json() == []
    async with http.post(f"{sandbox.url}/bot{SANDBOX_BOT_TOKEN}/getMe") as response:
        assert response.status == 200
    await post_json(http, api, {"kind": "earthquake"}, status=400)


async def test_page_and_assets_are_served(sandbox, http):
    async with http.get(f"{sandbox.url}/") as response:
        page = await response.text()
    assert '<html lang="ru">' in page and "/static/app.js" in page
    async with http.get(f"{sandbox.url}/static/app.js") as response:
        script = await response.text()
    assert "Перейти к подключению" in script
    async with http.get(f"{sandbox.url}/static/style.css") as response:
        assert response.status == 200
