"""The wire format itself: envelopes, bodies, long polling and injected faults over raw HTTP."""

from __future__ import annotations

import asyncio
import json
import time

import aiohttp
import pytest
from aiogram import Bot
from aiogram.exceptions import TelegramRetryAfter, TelegramServerError
from aiogram.methods import GetMe

from services.sandbox.botapi.faults import Fault
from tests.sandbox.conftest import TEACHER_ID, TOKEN, Emulator


@pytest.fixture
async def http():
    async with aiohttp.ClientSession() as session:
        yield session


async def call(http: aiohttp.ClientSession, emulator: Emulator, method: str, **kwargs):
    async with http.post(f"{emulator.url}/bot{TOKEN}/{method}", **kwargs) as response:
        return response.status, await response.json(content_type=None)


async def test_unknown_method_gets_telegrams_404_envelope(http, emulator):
    status, body = await call(http, emulator, "sendSticker2")
    assert status == 404
    assert body == {"ok": False, "error_code": 404, "description": "Not Found"}


async def test_wrong_token_is_unauthorized(http, emulator):
    async with http.post(f"{emulator.url}/bot1:wrong/getMe") as response:
        assert response.status == 401
        assert await response.json() == {
            "ok": False,
            "error_code": 401,
            "description": "Unauthorized",
        }


async def test_method_names_are_case_insensitive_and_get_works(http, emulator):
    async with http.get(f"{emulator.url}/bot{TOKEN}/GETME") as response:
        body = await response.json()
    assert body["ok"] is True and body["result"]["is_bot"] is True


@pytest.mark.parametrize("encoding", ["json", "form", "query"])
async def test_every_body_encoding_is_understood(http, emulator, encoding):
    emulator.world.user_sends_text(TEACHER_ID, "hi")
    params = {
        "chat_id": TEACHER_ID,
        "text": "<b>1</b>",
        "parse_mode": "HTML",
        "reply_markup": {"inline_keyboard": [[{"text": "Да", "callback_data": "y"}]]},
    }
    if encoding == "json":
        kwargs = {"json": params}
    else:
        flat = {**params, "reply_markup": json.dumps(params["reply_markup"])}
        kwargs = {"data": flat} if encoding == "form" else {"params": flat}
    status, body = await call(http, emulator, "sendMessage", **kwargs)
    assert status == 200 and body["ok"] is True
    assert body["result"]["text"] == "1"
    assert body["result"]["reply_markup"]["inline_keyboard"][0][0]["callback_data"] == "y"


async def test_multipart_upload_with_attach_reference(http, emulator):
    emulator.world.user_sends_text(TEACHER_ID, "hi")
    form = aiohttp.FormData()
    form.add_field("chat_id", str(TEACHER_ID))
    form.add_field("document", "attach://part1")
    form.add_field("part1", b"hello", filename="note.txt", content_type="text/plain")
    status, body = await call(http, emulator, "sendDocument", data=form)
    assert status == 200
    assert body["result"]["document"]["file_name"] == "note.txt"
    assert body["result"]["document"]["file_size"] == 5


async def test_error_envelope_for_a_bad_request(http, emulator):
    status, body = await call(http, emulator, "deleteMessage", data={"chat_id": "oops"})
    assert status == 400
    assert body == {"ok": False, "error_code": 400, "description": "Bad Request: chat not found"}


async def test_long_poll_returns_as_soon_as_an_update_arrives(http, emulator):
    world = emulator.world
    poll = asyncio.create_task(call(http, emulator, "getUpdates", data={"timeout": "30"}))
    await asyncio.wait_for(world.updates.poller_waiting(), 5)
    assert not poll.done()  # nothing to deliver: the call waits instead of answering []
    world.user_sends_text(TEACHER_ID, "Здравствуйте")
    status, body = await asyncio.wait_for(poll, 5)
    assert status == 200
    assert body["result"][0]["message"]["text"] == "Здравствуйте"


async def test_long_poll_times_out_with_an_empty_list(http, emulator):
    started = time.monotonic()
    status, body = await call(http, emulator, "getUpdates", data={"timeout": "0.3"})
    assert (status, body) == (200, {"ok": True, "result": []})
    assert time.monotonic() - started >= 0.25


async def test_offset_limit_and_negative_offset(http, emulator):
    world = emulator.world
    for text in ("один", "два", "три", "четыре"):
        world.user_sends_text(TEACHER_ID, text)
    _, body = await call(http, emulator, "getUpdates", data={"limit": "2"})
    first_two = [u["message"]["text"] for u in body["result"]]
    assert first_two == ["один", "два"]
    next_offset = body["result"][-1]["update_id"] + 1
    _, body = await call(http, emulator, "getUpdates", data={"offset": str(next_offset)})
    assert [u["message"]["text"] for u in body["result"]] == ["три", "четыре"]
    _, body = await call(http, emulator, "getUpdates", data={"offset": "-1"})
    assert [u["message"]["text"] for u in body["result"]] == ["четыре"]


async def test_a_newer_poll_terminates_the_waiting_one_with_409(http, emulator):
    older = asyncio.create_task(call(http, emulator, "getUpdates", data={"timeout": "30"}))
    await asyncio.wait_for(emulator.world.updates.poller_waiting(), 5)
    _, newer = await call(http, emulator, "getUpdates", data={"timeout": "0"})
    status, body = await asyncio.wait_for(older, 5)
    assert newer == {"ok": True, "result": []}
    assert status == 409
    assert "terminated by other getUpdates request" in body["description"]


async def test_allowed_updates_filters_later_updates(http, emulator, bot: Bot):
    world = emulator.world
    world.user_sends_text(TEACHER_ID, "hi")
    sent = await bot.send_message(
        TEACHER_ID,
        "?",
        reply_markup={"inline_keyboard": [[{"text": "Да", "callback_data": "y"}]]},
    )
    _, body = await call(
        http, emulator, "getUpdates", data={"allowed_updates": json.dumps(["message"])}
    )
    world.user_presses_button(TEACHER_ID, TEACHER_ID, sent.message_id, "y")
    world.user_sends_text(TEACHER_ID, "текст")
    offset = body["result"][-1]["update_id"] + 1
    _, body = await call(http, emulator, "getUpdates", data={"offset": str(offset)})
    assert [list(u)[1] for u in body["result"]] == ["message"]


async def test_fault_retry_after_is_a_429_aiogram_understands(http, emulator, bot: Bot):
    emulator.world.faults.add(Fault(kind="retry_after", method="getMe", retry_after=7))
    status, body = await call(http, emulator, "getMe")
    assert status == 429
    assert body == {
        "ok": False,
        "error_code": 429,
        "description": "Too Many Requests: retry after 7",
        "parameters": {"retry_after": 7},
    }
    emulator.world.faults.add(Fault(kind="retry_after", method="getMe", retry_after=3))
    with pytest.raises(TelegramRetryAfter) as refused:
        await bot(GetMe())
    assert refused.value.retry_after == 3
    assert (await bot.get_me()).is_bot  # the fault was used up


async def test_fault_server_errors_and_bad_gateway(http, emulator, bot: Bot):
    faults = emulator.world.faults
    faults.add(Fault(kind="server_error", method="sendMessage", times=2))
    emulator.world.user_sends_text(TEACHER_ID, "hi")
    for _ in range(2):
        with pytest.raises(TelegramServerError):
            await bot.send_message(TEACHER_ID, "x")
    assert (await bot.send_message(TEACHER_ID, "x")).text == "x"

    faults.add(Fault(kind="bad_gateway", method="*", times=1))
    async with http.post(f"{emulator.url}/bot{TOKEN}/getMe") as response:
        assert response.status == 502
        assert "502 Bad Gateway" in await response.text()


async def test_fault_latency_delays_through_the_injected_sleep(emulator, bot: Bot):
    delays: list[float] = []

    async def record(seconds: float) -> None:
        delays.append(seconds)

    emulator.world.faults._sleep = record
    emulator.world.faults.add(Fault(kind="latency", method="getMe", delay=2.5, times=None))
    await bot.get_me()
    await bot.get_me()
    assert delays == [2.5, 2.5]
    emulator.world.faults.clear()
    await bot.get_me()
    assert delays == [2.5, 2.5]
