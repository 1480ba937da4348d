"""Link tokens: signed, expiring, single-use, always a valid Telegram start parameter."""

from __future__ import annotations

import asyncio
import re
from datetime import UTC, datetime

from services.linking.tokens import LinkTokenSigner
from tests.linking.http_api import Api

START_PARAMETER = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


async def test_tokens_fit_telegram_start_parameter(api: Api) -> None:
    teacher = await api.teacher("vkid_no_profile")
    for _ in range(30):
        body = await api.ok(
            "POST", "/v1/link-tokens", {"mesh_account_id": teacher["mesh_account_id"]}
        )
        assert START_PARAMETER.fullmatch(body["token"]), body
        assert body["expires_at"] == "2026-11-25T08:00:00Z"


async def test_valid_token_opens_a_flow_once(api: Api) -> None:
    token = await api.token((await api.teacher("vkid_no_profile"))["mesh_account_id"])
    flow = await api.ok("POST", "/v1/flows", {"token": token}, status=201)
    assert flow["state"] == "phone"
    await api.refused("POST", "/v1/flows", {"token": token}, "token_used", 409)


async def test_concurrent_redemptions_of_one_token_open_one_flow(api: Api) -> None:
    token = await api.token((await api.teacher("vkid_no_profile"))["mesh_account_id"])
    replies = await asyncio.gather(
        *(api.call("POST", "/v1/flows", {"token": token}) for _ in range(6))
    )
    assert sorted(reply.status for reply in replies) == [201, 409, 409, 409, 409, 409]


async def test_tampered_token_is_invalid(api: Api) -> None:
    token = await api.token((await api.teacher("vkid_no_profile"))["mesh_account_id"])
    for index in (0, 5, len(token) - 2):
        swapped = "A" if token[index] != "A" else "B"
        forged = token[:index] + swapped + token[index + 1 :]
        await api.refused("POST", "/v1/flows", {"token": forged}, "token_invalid", 400)
    # The original is untouched by the failed attempts.
    await api.ok("POST", "/v1/flows", {"token": token}, status=201)


async def test_token_signed_with_another_key_is_invalid(api: Api) -> None:
    forged = LinkTokenSigner(b"someone else's key").sign(
        b"\x01" * 12, datetime(2030, 1, 1, tzinfo=UTC)
    )
    await api.refused("POST", "/v1/flows", {"token": forged}, "token_invalid", 400)


async def test_malformed_and_overlong_tokens_are_invalid(api: Api) -> None:
    token = await api.token((await api.teacher("vkid_no_profile"))["mesh_account_id"])
    for bad in ("", "abc", "not a token!", token + "A" * 21, "A" * 65, token[:-1], "é" * 10):
        reply = await api.call("POST", "/v1/flows", {"token": bad})
        assert reply.status == 400, bad
        assert reply.error["code"] in ("token_invalid", "bad_request"), bad


async def test_expired_token(api: Api, backend) -> None:
    token = await api.token((await api.teacher("vkid_no_profile"))["mesh_account_id"])
    api.clock.advance(backend.settings.link_token_ttl - 1)
    api.clock.advance(1)
    await api.refused("POST", "/v1/flows", {"token": token}, "token_expired", 410)


async def test_token_for_unknown_mesh_account(api: Api) -> None:
    await api.refused("POST", "/v1/link-tokens", {"mesh_account_id": "mesh-0000"}, "not_found", 404)


async def test_already_linked_does_not_burn_the_token(api: Api) -> None:
    token = await api.token((await api.teacher("already_linked"))["mesh_account_id"])
    for _ in range(2):
        await api.refused("POST", "/v1/flows", {"token": token}, "already_linked", 409)
