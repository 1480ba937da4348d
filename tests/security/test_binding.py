"""Flows belong to the Telegram user who redeemed the link, and to the MESH account's number."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from services.clock import FakeClock
from services.linking.in_process import RunningBackend
from tests.linking.http_api import Api, api_session
from tests.security.attacks import VICTIM

FLOW_STEPS: list[tuple[str, dict[str, Any]]] = [
    ("phone", {"phone": "+79857776604"}),
    ("password", {"password": "Elena$Popova90"}),
    ("code", {"channel": "sms"}),
    ("code/verify", {"code": "1234"}),
    ("profile", {"profile_id": "sf-demo-04"}),
    ("switch-account", {}),
    (
        "personal-data",
        {"full_name": "Попова Елена", "birth_date": "1990-11-21", "gender": "female"},
    ),
    ("consent", {"decision": "link"}),
    ("restart", {}),
]
RECOVERY_STEPS: list[tuple[str, dict[str, Any]]] = [
    ("code", {}),
    ("code/verify", {"code": "123456"}),
    ("confirm", {"confirmed": True}),
    ("method", {"method": "email"}),
    ("method/code", {}),
    ("method/verify", {"code": "123456"}),
    ("friends/code", {}),
    ("friends/verify", {"code": "123456"}),
    ("password", {"password": "Novyi#Parol2026"}),
    ("password/confirm", {"password": "Novyi#Parol2026", "logout_other_sessions": True}),
]


@pytest.fixture
async def stranger(backend: RunningBackend, clock: FakeClock) -> AsyncIterator[Api]:
    """Another Telegram user talking to the same backend through the same bot."""
    async with api_session(backend.url, "666") as session:
        yield Api(session, clock)


async def test_a_link_token_binds_to_the_first_telegram_user(api: Api, stranger: Api) -> None:
    teacher = await api.teacher(VICTIM)
    token = await api.token(teacher["mesh_account_id"])
    flow = await api.ok("POST", "/v1/flows", {"token": token}, status=201)

    # Replayed by someone else: refused, and the flow is not named.
    error = await stranger.refused("POST", "/v1/flows", {"token": token}, "token_used", 409)
    assert "flow_id" not in error
    # Replayed by her (a retried /start): refused too, but she learns her flow to carry on.
    error = await api.refused("POST", "/v1/flows", {"token": token}, "token_used", 409)
    assert error["flow_id"] == flow["flow_id"]


async def test_another_telegram_user_cannot_touch_a_flow_even_knowing_its_id(
    api: Api, stranger: Api
) -> None:
    teacher, flow = await api.flow_at_code(VICTIM)
    before = await api.get_flow(flow["flow_id"])
    path = f"/v1/flows/{flow['flow_id']}"
    await stranger.refused("GET", path, None, "not_found", 404)
    for action, body in FLOW_STEPS:
        await stranger.refused("POST", f"{path}/{action}", body, "not_found", 404)
    recovery = await stranger.call(
        "POST", "/v1/recoveries", {"phone": teacher["phone"], "flow_id": flow["flow_id"]}
    )
    assert (recovery.status, recovery.error["code"]) == (404, "not_found")
    assert await api.get_flow(flow["flow_id"]) == before  # nothing moved
    assert len(await api.inbox(teacher["phone"])) == 1  # and her phone got nothing more


async def test_another_telegram_user_cannot_touch_a_recovery(api: Api, stranger: Api) -> None:
    teacher = await api.teacher("forgot_password_email")
    recovery = await api.ok("POST", "/v1/recoveries", {"phone": teacher["phone"]}, status=201)
    path = f"/v1/recoveries/{recovery['recovery_id']}"
    await stranger.refused("GET", path, None, "not_found", 404)
    for action, body in RECOVERY_STEPS:
        await stranger.refused("POST", f"{path}/{action}", body, "not_found", 404)
    assert await api.ok("GET", path) == recovery


async def test_a_new_link_cancels_the_older_open_flow(api: Api, stranger: Api) -> None:
    # A stranger got hold of her link first (a forwarded message) and redeemed it.
    teacher = await api.teacher(VICTIM)
    stolen = await stranger.start_flow(teacher["mesh_account_id"])
    stolen = await stranger.step(stolen["flow_id"], "phone", {"phone": teacher["phone"]})
    assert stolen["state"] == "code"
    his_code = await api.last_code(teacher["phone"])  # say he saw her phone's screen, too
    # She opens the assistant again from her e-journal: a new link, and his flow is over.
    api.clock.advance(56)
    mine = await api.start_flow(teacher["mesh_account_id"])
    assert (await stranger.get_flow(stolen["flow_id"]))["state"] == "cancelled"
    for action, body in [
        *FLOW_STEPS[:3],
        ("code/verify", {"code": his_code}),
        ("restart", {}),  # «Начать заново» does not revive his flow over hers
    ]:
        await stranger.refused(
            "POST", f"/v1/flows/{stolen['flow_id']}/{action}", body, "wrong_state", 409
        )
    mine = await api.step(mine["flow_id"], "phone", {"phone": teacher["phone"]})
    assert mine["state"] == "code"
    mine = await api.enter_code(mine, teacher["phone"])
    assert mine["state"] == "profile"


async def test_a_number_the_e_journal_does_not_know_gets_no_code(api: Api, stranger: Api) -> None:
    victim = await api.teacher(VICTIM)
    own = await stranger.teacher("no_vkid")
    flow = await stranger.start_flow(own["mesh_account_id"])
    error = await stranger.refused(
        "POST",
        f"/v1/flows/{flow['flow_id']}/phone",
        {"phone": victim["phone"]},
        "phone_mismatch",
        422,
    )
    assert error["mesh_phone_masked"] == "+7 *** ***-**-01"  # his own number, not hers
    assert await stranger.get_flow(flow["flow_id"]) == flow  # nothing disclosed or moved
    assert await api.inbox(victim["phone"]) == []
