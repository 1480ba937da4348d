"""Hostile and clumsy requests: always a clear 4xx, never a 500, never a changed state."""

from __future__ import annotations

from typing import Any

import aiohttp
import pytest

from services.linking.in_process import serve_backend
from tests.linking.http_api import Api


@pytest.fixture
async def flow(api: Api) -> dict[str, Any]:
    teacher = await api.teacher("vkid_no_profile")
    flow = await api.start_flow(teacher["mesh_account_id"])
    return await api.step(flow["flow_id"], "phone", {"phone": teacher["phone"]})


async def raw(api: Api, method: str, path: str, data: bytes, **headers: str) -> tuple[int, Any]:
    async with api.session.request(method, path, data=data, headers=headers) as response:
        return response.status, await response.json(content_type=None)


async def test_malformed_json_is_a_bad_request(api: Api, flow: dict[str, Any]) -> None:
    path = f"/v1/flows/{flow['flow_id']}/password"
    for data in (b"{", b"\xff\xfe", b"[1, 2]", b'"password"', b"null", b"{'password': 1}"):
        status, body = await raw(api, "POST", path, data, **{"Content-Type": "application/json"})
        assert (status, body["error"]["code"]) == (400, "bad_request"), data
    assert await api.get_flow(flow["flow_id"]) == flow


async def test_wrong_types_and_missing_fields_name_the_field(
    api: Api, flow: dict[str, Any]
) -> None:
    flow_id = flow["flow_id"]
    cases = [
        (f"/v1/flows/{flow_id}/password", {"password": 12345678}, "password"),
        (f"/v1/flows/{flow_id}/password", {}, "password"),
        (f"/v1/flows/{flow_id}/phone", {"phone": ["+79031112202"]}, "phone"),
        (f"/v1/flows/{flow_id}/code", {"channel": "pigeon"}, "channel"),
        (f"/v1/flows/{flow_id}/code/verify", {"code": 1234}, "code"),
        (f"/v1/flows/{flow_id}/consent", {"decision": True}, "decision"),
        (f"/v1/flows/{flow_id}/personal-data", {"full_name": "Иванова Мария"}, "birth_date"),
        ("/v1/flows", {"token": None}, "token"),
        ("/v1/recoveries", {"phone": 79031112202}, "phone"),
        ("/dev/vpn", {"phone": "+79031112202", "enabled": "yes"}, "enabled"),
    ]
    for path, body, field in cases:
        error = await api.refused("POST", path, body, "bad_request", 400)
        assert field in error["fields"], (path, error)
    error = await api.refused("POST", "/dev/vpn", {"enabled": True}, "bad_request", 400)
    assert error["fields"]
    assert await api.get_flow(flow["flow_id"]) == flow


async def test_unknown_ids_are_not_found(api: Api, flow: dict[str, Any]) -> None:
    for method, path, body in [
        ("GET", "/v1/flows/flow-unknown", None),
        ("POST", "/v1/flows/flow-unknown/phone", {"phone": "+79031112202"}),
        ("GET", "/v1/recoveries/rec-unknown", None),
        ("POST", "/v1/recoveries/rec-unknown/code/verify", {"code": "123456"}),
        ("POST", "/dev/link-token", {"mesh_account_id": "mesh-9999"}),
        ("POST", "/dev/vpn", {"mesh_account_id": "mesh-9999", "enabled": True}),
        ("GET", "/dev/totp?phone=%2B79990000000", None),
    ]:
        await api.refused(method, path, body, "not_found", 404)


async def test_unknown_profile_id_does_not_move_the_flow(api: Api) -> None:
    teacher, flow = await api.flow_at_code("profile_exists_authorised")
    flow = await api.enter_code(flow, teacher["phone"])
    other_profile = "sf-demo-03"  # exists, but belongs to another phone
    for profile_id in ("sf-nope", other_profile):
        await api.refused(
            "POST",
            f"/v1/flows/{flow['flow_id']}/profile",
            {"profile_id": profile_id},
            "not_found",
            404,
        )
    assert (await api.get_flow(flow["flow_id"]))["state"] == "profile"


async def test_oversized_body_is_refused(api: Api, flow: dict[str, Any]) -> None:
    path = f"/v1/flows/{flow['flow_id']}/password"
    big = b'{"password": "' + b"x" * (70 * 1024) + b'"}'
    status, body = await raw(api, "POST", path, big, **{"Content-Type": "application/json"})
    assert (status, body["error"]["code"]) == (413, "payload_too_large")
    # Chunked, without Content-Length: the reader still stops it.

    async def chunks():
        for _ in range(80):
            yield b"x" * 1024

    async with api.session.post(path, data=chunks()) as response:
        assert response.status == 413
        assert (await response.json())["error"]["code"] == "payload_too_large"
    assert await api.get_flow(flow["flow_id"]) == flow


async def test_unknown_route_and_method(api: Api) -> None:
    await api.refused("GET", "/v1/nothing-here", None, "not_found", 404)
    await api.refused("DELETE", "/v1/flows", None, "method_not_allowed", 405)


async def test_phone_must_be_a_russian_mobile_in_e164(api: Api, flow: dict[str, Any]) -> None:
    path = f"/v1/flows/{flow['flow_id']}/phone"
    for phone in ("89031112202", "+7 903 111-22-02", "+74951234567", "+380501234567", "+7903"):
        await api.refused("POST", path, {"phone": phone}, "phone_invalid", 422)
    assert await api.get_flow(flow["flow_id"]) == flow


async def test_wrong_state_names_the_state(api: Api, flow: dict[str, Any]) -> None:
    error = await api.refused(
        "POST", f"/v1/flows/{flow['flow_id']}/consent", {"decision": "link"}, "wrong_state", 409
    )
    assert error["state"] == "password"


async def test_dev_endpoints_do_not_exist_without_demo() -> None:
    async with (
        serve_backend(demo=False, settings_overrides={"api_key": "k" * 32}) as backend,
        aiohttp.ClientSession(backend.url) as session,
    ):
        for method, path in [
            ("GET", "/dev/accounts"),
            ("POST", "/dev/accounts"),
            ("GET", "/dev/accounts/mesh-1001"),
            ("POST", "/dev/link-token"),
            ("GET", "/dev/inbox?phone=%2B79031112202"),
            ("GET", "/dev/mailbox?email=a%40b.ru"),
            ("GET", "/dev/totp?phone=%2B79031112202"),
            ("POST", "/dev/vpn"),
        ]:
            async with session.request(method, path, json={}) as response:
                assert response.status == 404, path
                assert (await response.json())["error"]["code"] == "not_found"
        async with session.get("/health") as response:
            assert await response.json() == {"status": "ok"}


async def test_api_key_guards_v1_only() -> None:
    async with (
        serve_backend(demo=True, settings_overrides={"api_key": "s3cret"}) as backend,
        aiohttp.ClientSession(backend.url) as session,
    ):
        payload = {"mesh_account_id": "mesh-1002"}
        for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": "s3cret"}):
            async with session.post("/v1/link-tokens", json=payload, headers=headers) as response:
                assert response.status == 401
                assert (await response.json())["error"]["code"] == "unauthorized"
        good = {"Authorization": "Bearer s3cret"}
        async with session.post("/v1/link-tokens", json=payload, headers=good) as response:
            assert response.status == 200
        async with session.get("/health") as response:
            assert response.status == 200
