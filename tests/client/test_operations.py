"""Each client method is exactly one documented call: method, path, body — and a typed result."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime
from typing import Any

import pytest
from aiohttp import web

from services.linking_client import (
    DevAccount,
    Flow,
    FlowState,
    InboxItem,
    LinkingClient,
    LinkToken,
    Recovery,
    RecoveryState,
)
from tests.client.samples import FLOW, RECOVERY
from tests.client.stub_server import StartStub, json_answer

Call = Callable[[LinkingClient], Awaitable[Any]]

# (client call, HTTP method, path, JSON body sent)
FLOW_CALLS: list[tuple[Call, str, str, Any]] = [
    (lambda c: c.start_flow("tok-1"), "POST", "/v1/flows", {"token": "tok-1"}),
    (lambda c: c.get_flow("fl-1"), "GET", "/v1/flows/fl-1", None),
    (
        lambda c: c.submit_phone("fl-1", "+79161234567"),
        "POST",
        "/v1/flows/fl-1/phone",
        {"phone": "+79161234567"},
    ),
    (
        lambda c: c.submit_password("fl-1", "Secret-1"),
        "POST",
        "/v1/flows/fl-1/password",
        {"password": "Secret-1"},
    ),
    (lambda c: c.send_code("fl-1", "sms"), "POST", "/v1/flows/fl-1/code", {"channel": "sms"}),
    (
        lambda c: c.verify_code("fl-1", "1234"),
        "POST",
        "/v1/flows/fl-1/code/verify",
        {"code": "1234"},
    ),
    (
        lambda c: c.choose_profile("fl-1", "sf-1"),
        "POST",
        "/v1/flows/fl-1/profile",
        {"profile_id": "sf-1"},
    ),
    (lambda c: c.switch_account("fl-1"), "POST", "/v1/flows/fl-1/switch-account", {}),
    (
        lambda c: c.submit_personal_data(
            "fl-1",
            full_name="Иванова Мария Петровна",
            birth_date=date(1985, 3, 14),
            gender="female",
        ),
        "POST",
        "/v1/flows/fl-1/personal-data",
        {"full_name": "Иванова Мария Петровна", "birth_date": "1985-03-14", "gender": "female"},
    ),
    (
        lambda c: c.give_consent("fl-1", link=True),
        "POST",
        "/v1/flows/fl-1/consent",
        {"decision": "link"},
    ),
    (
        lambda c: c.give_consent("fl-1", link=False),
        "POST",
        "/v1/flows/fl-1/consent",
        {"decision": "cancel"},
    ),
    (lambda c: c.restart_flow("fl-1"), "POST", "/v1/flows/fl-1/restart", {}),
]

RECOVERY_CALLS: list[tuple[Call, str, str, Any]] = [
    (
        lambda c: c.start_recovery("+79161234567"),
        "POST",
        "/v1/recoveries",
        {"phone": "+79161234567", "flow_id": None},
    ),
    (
        lambda c: c.start_recovery("+79161234567", flow_id="fl-1"),
        "POST",
        "/v1/recoveries",
        {"phone": "+79161234567", "flow_id": "fl-1"},
    ),
    (lambda c: c.get_recovery("rc-1"), "GET", "/v1/recoveries/rc-1", None),
    (lambda c: c.resend_recovery_code("rc-1"), "POST", "/v1/recoveries/rc-1/code", {}),
    (
        lambda c: c.verify_recovery_code("rc-1", "123456"),
        "POST",
        "/v1/recoveries/rc-1/code/verify",
        {"code": "123456"},
    ),
    (
        lambda c: c.confirm_recovery_account("rc-1", confirmed=True),
        "POST",
        "/v1/recoveries/rc-1/confirm",
        {"confirmed": True},
    ),
    (
        lambda c: c.choose_recovery_method("rc-1", "email"),
        "POST",
        "/v1/recoveries/rc-1/method",
        {"method": "email"},
    ),
    (lambda c: c.resend_method_code("rc-1"), "POST", "/v1/recoveries/rc-1/method/code", {}),
    (
        lambda c: c.verify_method_code("rc-1", "654321"),
        "POST",
        "/v1/recoveries/rc-1/method/verify",
        {"code": "654321"},
    ),
    (lambda c: c.resend_friend_codes("rc-1"), "POST", "/v1/recoveries/rc-1/friends/code", {}),
    (
        lambda c: c.verify_friend_code("rc-1", "246810"),
        "POST",
        "/v1/recoveries/rc-1/friends/verify",
        {"code": "246810"},
    ),
    (
        lambda c: c.propose_new_password("rc-1", "N3w-Pass!"),
        "POST",
        "/v1/recoveries/rc-1/password",
        {"password": "N3w-Pass!"},
    ),
    (
        lambda c: c.confirm_new_password("rc-1", "N3w-Pass!", logout_other_sessions=False),
        "POST",
        "/v1/recoveries/rc-1/password/confirm",
        {"password": "N3w-Pass!", "logout_other_sessions": False},
    ),
]


@pytest.mark.parametrize(("call", "method", "path", "body"), FLOW_CALLS)
async def test_flow_operations_send_the_documented_request(
    start_stub: StartStub, call: Call, method: str, path: str, body: Any
) -> None:
    stub = await start_stub(json_answer(FLOW))
    async with LinkingClient(stub.url) as client:
        result = await call(client.for_user(777))
    assert isinstance(result, Flow)
    assert result.state is FlowState.CODE
    sent = stub.requests[0]
    assert (sent.method, sent.path, sent.body) == (method, path, body)
    assert sent.headers["X-End-User-Id"] == "777"  # the teacher the bot acts for


@pytest.mark.parametrize(("call", "method", "path", "body"), RECOVERY_CALLS)
async def test_recovery_operations_send_the_documented_request(
    start_stub: StartStub, call: Call, method: str, path: str, body: Any
) -> None:
    stub = await start_stub(json_answer(RECOVERY))
    async with LinkingClient(stub.url) as client:
        result = await call(client.for_user("tg-5"))
    assert isinstance(result, Recovery)
    assert result.state is RecoveryState.METHOD
    sent = stub.requests[0]
    assert (sent.method, sent.path, sent.body) == (method, path, body)
    assert sent.headers["X-End-User-Id"] == "tg-5"


@pytest.mark.parametrize(("call", "_method", "path", "_body"), FLOW_CALLS + RECOVERY_CALLS)
async def test_ids_in_paths_never_reach_the_client_log(
    start_stub: StartStub,
    caplog: pytest.LogCaptureFixture,
    call: Call,
    _method: str,
    path: str,
    _body: Any,
) -> None:
    stub = await start_stub(json_answer(FLOW if path.startswith("/v1/flows") else RECOVERY))
    caplog.set_level(logging.DEBUG, logger="services.linking_client")
    async with LinkingClient(stub.url) as client:
        with contextlib.suppress(Exception):  # a shape mismatch is fine: the log is the point
            await call(client.for_user(1))
    logged = [record.getMessage() for record in caplog.records]
    assert any("/v1/" in line for line in logged), logged
    assert not any("fl-1" in line or "rc-1" in line for line in logged), logged


async def test_for_user_is_a_view_sharing_the_session(start_stub: StartStub) -> None:
    stub = await start_stub(json_answer(FLOW))
    async with LinkingClient(stub.url) as client:
        one, two = client.for_user(1), client.for_user(2)
        await one.get_flow("fl-1")
        await two.get_flow("fl-1")
        await one.close()  # a view closes nothing
        await client.get_flow("fl-1")
        assert (one.end_user, two.end_user, client.end_user) == ("1", "2", None)
        assert one._get_session() is client._get_session() is two._get_session()
        for bad in ("", "x" * 65, "a b", "12\n3", "Ивan"):
            with pytest.raises(ValueError):
                client.for_user(bad)
    assert [r.headers.get("X-End-User-Id") for r in stub.requests] == ["1", "2", None]


async def test_confirm_mesh_phone(start_stub: StartStub) -> None:
    answer = {"mesh_account_id": "mesh-1", "phone_masked": "+7 *** ***-**-67"}
    stub = await start_stub(json_answer(answer))
    async with LinkingClient(stub.url) as client:
        masked = await client.confirm_mesh_phone("mesh-1", "+79161234567")
    assert masked == "+7 *** ***-**-67"
    sent = stub.requests[0]
    assert (sent.method, sent.path, sent.body) == (
        "POST",
        "/v1/mesh-accounts/mesh-1/phone",
        {"phone": "+79161234567"},
    )


async def test_create_link_token(start_stub: StartStub) -> None:
    stub = await start_stub(
        json_answer({"token": "abc_DEF-1", "expires_at": "2026-11-25T08:00:00Z"})
    )
    async with LinkingClient(stub.url) as client:
        token = await client.create_link_token("mesh-1001")
    assert token == LinkToken("abc_DEF-1", datetime(2026, 11, 25, 8, tzinfo=UTC))
    sent = stub.requests[0]
    assert (sent.method, sent.path, sent.body) == (
        "POST",
        "/v1/link-tokens",
        {"mesh_account_id": "mesh-1001"},
    )


async def test_dev_link_token(start_stub: StartStub) -> None:
    stub = await start_stub(json_answer({"token": "tok", "deep_link_payload": "tok"}))
    async with LinkingClient(stub.url) as client:
        token = await client.dev_link_token("mesh-1001")
    assert (token.token, token.deep_link_payload, token.expires_at) == ("tok", "tok", None)
    assert stub.requests[0].path == "/dev/link-token"
    assert stub.requests[0].body == {"mesh_account_id": "mesh-1001"}


async def test_dev_accounts(start_stub: StartStub) -> None:
    account = {
        "mesh_account_id": "mesh-1001",
        "full_name": "Иванова Мария Петровна",
        "phone": "+79161234567",
        "email": None,
        "vk_password": "Secret-1",
        "case": "vkid_no_profile",
    }
    stub = await start_stub(json_answer([account]))
    async with LinkingClient(stub.url) as client:
        accounts = await client.dev_accounts()
    assert accounts == [DevAccount(**account)]
    assert "Secret-1" not in repr(accounts)
    assert (stub.requests[0].method, stub.requests[0].path) == ("GET", "/dev/accounts")


async def test_dev_account_and_a_fresh_one(start_stub: StartStub) -> None:
    profile = {
        "profile_id": "sf-demo-05",
        "full_name": "Соколов Дмитрий Александрович",
        "birth_date": "1975-06-30",
        "gender": "male",
        "school": "ГБОУ Школа № 1568",
    }
    account = {
        "mesh_account_id": "mesh-1010",
        "full_name": "Соколов Дмитрий Александрович",
        "phone": "+79990000010",
        "email": None,
        "vk_password": "Sferum#0010",
        "case": "already_linked",
        "school": "ГБОУ Школа № 1568",
        "birth_date": "1975-06-30",
        "gender": "male",
        "vpn": False,
        "authenticator_app": False,
        "linked_profile": profile,
    }
    stub = await start_stub(json_answer(account))
    async with LinkingClient(stub.url) as client:
        one = await client.dev_account("mesh-1010")
        fresh = await client.dev_create_account("already_linked")
    assert one == fresh
    assert one.linked_profile is not None and one.linked_profile.profile_id == "sf-demo-05"
    assert (one.birth_date, one.gender, one.authenticator_app) == (date(1975, 6, 30), "male", False)
    requests = [(r.method, r.path, r.body) for r in stub.requests]
    assert requests == [
        ("GET", "/dev/accounts/mesh-1010", None),
        ("POST", "/dev/accounts", {"case": "already_linked"}),
    ]


async def test_dev_inbox_and_mailbox(start_stub: StartStub) -> None:
    item = {"channel": "sms", "code": "123456", "text": "Код: 123456", "at": "2026-11-25T07:00:01Z"}

    async def by_path(request: web.Request) -> web.Response:
        return web.json_response([item] if request.path == "/dev/inbox" else [])

    stub = await start_stub(by_path)
    async with LinkingClient(stub.url) as client:
        inbox = await client.dev_inbox("+79161234567")
        mailbox = await client.dev_mailbox("ka@mail.ru")
    assert inbox == [
        InboxItem("sms", "123456", "Код: 123456", datetime(2026, 11, 25, 7, 0, 1, tzinfo=UTC))
    ]
    assert mailbox == []
    assert stub.requests[1].query == {"email": "ka@mail.ru"}


async def test_dev_totp(start_stub: StartStub) -> None:
    stub = await start_stub(json_answer({"code": "004211"}))
    async with LinkingClient(stub.url) as client:
        assert await client.dev_totp("+79161234567") == "004211"
    assert stub.requests[0].path == "/dev/totp"


async def test_dev_friends(start_stub: StartStub) -> None:
    item = {"channel": "friend", "code": "246810", "text": "…", "at": "2026-11-25T07:00:01Z"}
    stub = await start_stub(json_answer([{"name": "Ольга К.", "inbox": [item]}]))
    async with LinkingClient(stub.url) as client:
        friends = await client.dev_friends("+79161234567")
    assert [(f.name, [i.code for i in f.inbox]) for f in friends] == [("Ольга К.", ["246810"])]
    assert stub.requests[0].path == "/dev/friends"
    assert stub.requests[0].query == {"phone": "+79161234567"}


async def test_dev_set_vpn_by_phone_or_account(start_stub: StartStub) -> None:
    stub = await start_stub(json_answer({"enabled": False}))
    async with LinkingClient(stub.url) as client:
        assert await client.dev_set_vpn(phone="+79161234567", enabled=False) is False
        assert await client.dev_set_vpn(mesh_account_id="mesh-1", enabled=True) is False
        with pytest.raises(ValueError):
            await client.dev_set_vpn(enabled=True)
    assert [r.body for r in stub.requests] == [
        {"enabled": False, "phone": "+79161234567"},
        {"enabled": True, "mesh_account_id": "mesh-1"},
    ]


async def test_flow_events_long_polls_with_a_timeout_that_covers_the_wait(
    start_stub: StartStub,
) -> None:
    answer = {
        "flow_id": "fl-1",
        "state": "code",
        "next": 9,
        "events": [
            {
                "seq": 8,
                "kind": "refusal",
                "state": "code",
                "source": "journal",
                "at": "2026-11-25T08:00:00Z",
                "code": "code_invalid",
                "attempts_left": 4,
                "route": "/v1/flows/{flow_id}/code/verify",
            },
            {
                "seq": 9,
                "kind": "screen",
                "state": "code",
                "source": "journal",
                "at": "2026-11-25T08:00:01Z",
                "screen": "vkid_phone",
                "new_field": 1,
            },
        ],
    }

    async def held(request: web.Request) -> web.StreamResponse:
        await asyncio.sleep(0.8)  # the backend holds a long-poll on purpose
        return web.json_response(answer)

    stub = await start_stub(held)
    # Each attempt may take 0.5 s; a long-poll of 3 s may take 0.5 + 3 (no BackendUnavailable).
    async with LinkingClient(stub.url, timeout=0.5, retries=0) as client:
        page = await client.for_user(5).flow_events("fl-1", after=7, wait=3)
    assert page.next == 9 and page.state == "code"
    wrong, screen = page.events
    assert (wrong.kind, wrong.code, wrong.attempts_left, wrong.source) == (
        "refusal",
        "code_invalid",
        4,
        "journal",
    )
    assert (screen.kind, screen.screen) == ("screen", "vkid_phone")  # unknown fields ignored
    sent = stub.requests[0]
    assert (sent.method, sent.path) == ("GET", "/v1/flows/fl-1/events")
    assert sent.query == {"after": "7", "wait": "3"}


async def test_the_journal_view_names_the_mesh_account_not_an_end_user(
    start_stub: StartStub,
) -> None:
    stub = await start_stub(json_answer(FLOW))
    async with LinkingClient(stub.url) as client:
        window = client.for_journal("mesh-1001")
        await window.mesh_account_flow("mesh-1001")
        await window.submit_phone("fl-1", "+79161234567")
        await client.for_user(5).for_journal("mesh-1001").get_flow("fl-1")
        for bad in ("", "a b", "x" * 65):
            with pytest.raises(ValueError):
                client.for_journal(bad)
    assert [r.path for r in stub.requests] == [
        "/v1/mesh-accounts/mesh-1001/flow",
        "/v1/flows/fl-1/phone",
        "/v1/flows/fl-1",
    ]
    for request in stub.requests:
        assert request.headers["X-Mesh-Account-Id"] == "mesh-1001"
        assert "X-End-User-Id" not in request.headers


async def test_report_screen(start_stub: StartStub) -> None:
    stub = await start_stub(json_answer({"flow_id": "fl-1", "screen": "vkid_phone"}))
    async with LinkingClient(stub.url) as client:
        await client.for_journal("mesh-1").report_screen("fl-1", "vkid_phone")
    sent = stub.requests[0]
    assert (sent.method, sent.path, sent.body) == (
        "POST",
        "/v1/flows/fl-1/window",
        {"screen": "vkid_phone"},
    )
