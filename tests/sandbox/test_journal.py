"""The e-journal and the phone tell the truth the backend knows: link states, the password a
teacher knows now, fresh teachers on demand, the bot's command menu — and a quiet terminal."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator

import aiohttp
import pytest

from bot.config import Settings
from bot.sandbox import Sandbox, start_sandbox
from services.linking_client import LinkingClient
from services.sandbox.webapi import CASES

NEW_PASSWORD = "Novyi#Parol2026"


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


async def get_json(http, url):
    async with http.get(url) as response:
        assert response.status == 200, await response.text()
        return await response.json()


async def post_json(http, url, body, status=200):
    async with http.post(url, json=body) as response:
        assert response.status == status, await response.text()
        return await response.json()


def by_case(teachers: list[dict], case: str) -> dict:
    return next(t for t in teachers if t["case"] == case)


async def link_in_scenario_a(backend: LinkingClient, teacher: dict) -> None:
    backend = backend.for_user(teacher["mesh_account_id"])  # one end user per teacher
    token = await backend.dev_link_token(teacher["mesh_account_id"])
    flow = await backend.start_flow(token.token)
    await backend.submit_phone(flow.flow_id, teacher["phone"])
    await backend.submit_password(flow.flow_id, teacher["vk_password"])
    code = (await backend.dev_inbox(teacher["phone"]))[-1].code
    await backend.verify_code(flow.flow_id, code)
    account = await backend.dev_account(teacher["mesh_account_id"])
    assert account.birth_date is not None and account.gender is not None
    await backend.submit_personal_data(
        flow.flow_id,
        full_name=account.full_name,
        birth_date=account.birth_date,
        gender=account.gender,
    )
    await backend.give_consent(flow.flow_id, link=True)


async def test_the_journal_shows_who_is_linked(sandbox, http, backend):
    state = await get_json(http, f"{sandbox.url}/api/state")
    already = by_case(state["teachers"], "already_linked")
    assert already["linked_profile"]["full_name"] == already["full_name"]
    teacher = by_case(state["teachers"], "vkid_no_profile")
    assert teacher["linked_profile"] is None

    await link_in_scenario_a(backend, teacher)
    for path in ("/api/teachers", "/api/state"):  # what a reload reads, too
        answer = await get_json(http, f"{sandbox.url}{path}")
        teachers = answer if isinstance(answer, list) else answer["teachers"]
        linked = by_case(teachers, "vkid_no_profile")["linked_profile"]
        assert linked["full_name"] == teacher["full_name"]
        assert linked["profile_id"].startswith("sf-")


async def test_the_phone_shows_the_password_after_a_recovery(sandbox, http, backend):
    teacher = next(t for t in sandbox.cast.teachers if t.case == "forgot_password_app")
    phone_url = f"{sandbox.url}/api/phone/{teacher.user_id}"
    seeded = (await get_json(http, phone_url))["teacher"]["vk_password"]
    backend = backend.for_user(teacher.user_id)  # as the bot calls it for her
    recovery = await backend.start_recovery(teacher.phone)
    sms = (await backend.dev_inbox(teacher.phone))[-1].code
    recovery = await backend.verify_recovery_code(recovery.recovery_id, sms)
    recovery = await backend.confirm_recovery_account(recovery.recovery_id, confirmed=True)
    recovery = await backend.choose_recovery_method(recovery.recovery_id, "totp")
    phone = await get_json(http, phone_url)
    assert phone["teacher"]["vk_password"] == seeded  # nothing changed yet
    recovery = await backend.verify_method_code(recovery.recovery_id, phone["totp"])
    await backend.propose_new_password(recovery.recovery_id, NEW_PASSWORD)
    await backend.confirm_new_password(
        recovery.recovery_id, NEW_PASSWORD, logout_other_sessions=False
    )
    assert (await get_json(http, phone_url))["teacher"]["vk_password"] == NEW_PASSWORD


async def test_a_new_teacher_of_a_chosen_case_joins_the_journal(sandbox, http):
    before = len(sandbox.cast.teachers)
    with sandbox.world.events.subscribe() as events:
        fresh = await post_json(http, f"{sandbox.url}/api/teachers", {"case": "vkid_no_profile"})
        event = events.get_nowait()
    assert event["type"] == "teachers" and event["teachers"][-1] == fresh
    assert fresh["case"] == "vkid_no_profile" and fresh["linked_profile"] is None
    assert fresh["user_id"] in sandbox.world.users
    assert fresh["mesh_account_id"] not in {
        t.mesh_account_id for t in sandbox.cast.teachers[:before]
    }
    teachers = await get_json(http, f"{sandbox.url}/api/teachers")
    assert len(teachers) == before + 1 and teachers[-1] == fresh
    # She can start linking at once: «Перейти к подключению» sends her deep link.
    started = await post_json(
        http, f"{sandbox.url}/api/teachers/{fresh['mesh_account_id']}/connect", {}
    )
    assert started["user_id"] == fresh["user_id"]
    await post_json(http, f"{sandbox.url}/api/teachers", {"case": "nobody"}, status=400)
    assert len(sandbox.cast.teachers) == before + 1


async def test_reset_gives_a_fresh_teacher_of_every_case(sandbox, http, backend):
    old = {t.mesh_account_id: t.user_id for t in sandbox.cast.teachers}
    linked_before = by_case(await get_json(http, f"{sandbox.url}/api/teachers"), "vkid_no_profile")
    await link_in_scenario_a(backend, linked_before)

    teachers = await post_json(http, f"{sandbox.url}/api/demo/reset", {})
    assert [t["case"] for t in teachers] == list(CASES)
    assert not {t["mesh_account_id"] for t in teachers} & set(old)
    assert not {t["user_id"] for t in teachers} & set(old.values())
    assert by_case(teachers, "vkid_no_profile")["linked_profile"] is None  # usable again
    assert by_case(teachers, "already_linked")["linked_profile"] is not None
    # The replaced teachers keep their Telegram users; the journal lists only the new set.
    assert set(old.values()) <= set(sandbox.world.users)
    state = await get_json(http, f"{sandbox.url}/api/state")
    assert state["teachers"] == teachers and state["cases"] == list(CASES)


async def test_the_command_menu_follows_scope_and_language(sandbox, http):
    """What the page shows on «/»: the menu the bot set, resolved as Telegram resolves it."""
    world = sandbox.world
    teacher = sandbox.cast.teachers[0]
    operator = sandbox.cast.operators[0]
    world.commands.set(("default", None, None), "", [{"command": "start", "description": "Начать"}])
    world.commands.set(
        ("default", None, None), "en", [{"command": "start", "description": "Start"}]
    )
    helpdesk = sandbox.cast.helpdesk_chat_id
    world.commands.set(
        ("chat_administrators", helpdesk, None), "", [{"command": "take", "description": "Взять"}]
    )

    async def menu(**query) -> list[str]:
        answer = await get_json(
            http,
            f"{sandbox.url}/api/commands?"
            + "&".join(f"{key}={value}" for key, value in query.items()),
        )
        return [f"/{c['command']} {c['description']}" for c in answer]

    assert await menu(user_id=teacher.user_id, language="ru") == ["/start Начать"]
    assert await menu(user_id=teacher.user_id, language="en") == ["/start Start"]
    assert await menu(user_id=teacher.user_id, language="de") == ["/start Начать"]
    assert await menu(user_id=operator["id"], chat_id=helpdesk, language="en") == ["/take Взять"]
    async with http.get(f"{sandbox.url}/api/commands?user_id=1&language=english") as reply:
        assert reply.status == 400


async def test_an_idle_page_leaves_no_refusal_lines_in_the_log(sandbox, http, caplog):
    """What the page polls while nobody acts (state, journal, every teacher's phone, every 1.5 s)
    must not print a line a person would have to read."""
    caplog.set_level(logging.DEBUG)
    for _tick in range(3):  # a few polls of each are what a minute repeats
        await get_json(http, f"{sandbox.url}/api/state")
        await get_json(http, f"{sandbox.url}/api/teachers")
        for teacher in sandbox.cast.teachers:  # no VK ID, no app, no e-mail: every kind
            await get_json(http, f"{sandbox.url}/api/phone/{teacher.user_id}")
    loud = [r for r in caplog.records if r.levelno >= logging.INFO]
    assert loud == [], [r.getMessage() for r in loud]
