"""Flooding numbers with calls, SMS and recoveries: per number, per Telegram user, per API key."""

from __future__ import annotations

from datetime import datetime, timedelta

import aiohttp

from services.clock import FakeClock
from services.linking.in_process import RunningBackend, serve_backend
from tests.linking.http_api import Api, Reply, api_session
from tests.security.attacks import (
    DAY,
    HOUR,
    VICTIM,
    by_new_flow,
    by_new_recovery,
    by_switching_channels,
    describe,
    most_in_any_window,
    run_attack,
    stranger_against,
)

ATTACK_HOURS = 50


async def test_calls_and_sms_to_one_number_are_capped_whoever_asks(
    api: Api, backend: RunningBackend, clock: FakeClock
) -> None:
    settings = backend.settings
    victim = await api.teacher(VICTIM)
    async with stranger_against(backend.url, clock, victim["phone"]) as stranger:
        # No guessing at all: only making her phone ring, by every path, with fresh accounts.
        paths = [by_new_flow, by_switching_channels, by_new_recovery]
        await run_attack(stranger, paths, hours=ATTACK_HOURS, attempts=0)
        delivered = await stranger.delivered_to_victim()
    ledger = stranger.ledger
    assert ledger.limits["destination_codes_per_hour"] >= 1, describe(ledger)
    assert ledger.limits["destination_codes_per_day"] >= 1, describe(ledger)
    assert most_in_any_window(delivered, HOUR) == settings.destination_codes_per_hour
    assert most_in_any_window(delivered, DAY) == settings.destination_codes_per_day
    assert len(delivered) <= 3 * settings.destination_codes_per_day  # 50 h: at most 3 windows


async def test_recovery_flood_is_capped_per_vk_id_and_number(
    api: Api, backend: RunningBackend, clock: FakeClock
) -> None:
    settings = backend.settings
    victim = await api.teacher(VICTIM)
    started: list[datetime] = []
    async with stranger_against(backend.url, clock, victim["phone"]) as stranger:
        end = clock.now() + timedelta(hours=ATTACK_HOURS)
        while clock.now() < end:
            got = await by_new_recovery(stranger)
            if isinstance(got, Reply):
                stranger.note(got)
                if got.error.get("limit", "").startswith("end_user"):
                    await stranger.new_identity()
                else:
                    stranger.wait_as_told(got)
            else:
                started.append(clock.now())
        delivered = await stranger.delivered_to_victim()
    ledger = stranger.ledger
    assert ledger.limits["account_recoveries_per_day"] >= 1, describe(ledger)
    assert ledger.refusals["resend_too_early"] >= 1, describe(ledger)  # 1:15 between SMS
    assert most_in_any_window(started, DAY) == settings.account_recoveries_per_day
    assert most_in_any_window(delivered, HOUR) <= settings.destination_codes_per_hour
    assert most_in_any_window(delivered, DAY) <= settings.destination_codes_per_day


async def _ring_new_numbers(
    api: Api, mesh_account_id: str, first: int, hours: int, *, wait: bool = True
) -> tuple[list[datetime], list[Reply]]:
    """One Telegram user in one flow: confirm a fresh number, send it, again and again
    (waiting out each refusal, or stopping at the first one)."""
    flow = await api.start_flow(mesh_account_id)
    path = f"/v1/flows/{flow['flow_id']}/phone"
    sent: list[datetime] = []
    refusals: list[Reply] = []
    end = api.clock.now() + timedelta(hours=hours)
    number = first
    while api.clock.now() < end:
        phone = f"+7999{number:07d}"
        await api.confirm_phone(mesh_account_id, phone)
        reply = await api.call("POST", path, {"phone": phone})
        if reply.status == 200:
            sent.append(api.clock.now())
            number += 1
            continue
        refusals.append(reply)
        if not wait:
            break
        if reply.error["code"] == "flow_expired":
            flow = await api.start_flow(mesh_account_id)
            path = f"/v1/flows/{flow['flow_id']}/phone"
            continue
        api.clock.advance(max(1, reply.error.get("retry_after") or 0))
    return sent, refusals


async def test_one_telegram_user_cannot_ring_many_numbers(
    api: Api, backend: RunningBackend, clock: FakeClock
) -> None:
    settings = backend.settings
    stranger = await api.teacher("no_vkid")
    sent, refusals = await _ring_new_numbers(api, stranger["mesh_account_id"], 1, ATTACK_HOURS)
    limits = {reply.error.get("limit") for reply in refusals}
    assert {"end_user_codes_per_hour", "end_user_codes_per_day"} <= limits
    assert all(reply.status == 429 for reply in refusals if reply.error["code"] == "rate_limited")
    assert most_in_any_window(sent, HOUR) == settings.end_user_codes_per_hour
    assert most_in_any_window(sent, DAY) == settings.end_user_codes_per_day


async def test_the_api_key_as_a_whole_has_a_quota() -> None:
    clock = FakeClock()
    key = "k" * 40
    overrides = {"api_key": key, "api_key_codes_per_hour": 30}
    async with serve_backend(demo=True, clock=clock, settings_overrides=overrides) as backend:
        sent: list[datetime] = []
        refusals: list[Reply] = []
        for user in range(1, 9):  # eight Telegram users, each within its own quota
            headers = {"Authorization": f"Bearer {key}", "X-End-User-Id": str(user)}
            async with aiohttp.ClientSession(backend.url, headers=headers) as session:
                api = Api(session, clock)
                mesh = (await api.teacher("no_vkid"))["mesh_account_id"]
                got, refused = await _ring_new_numbers(api, mesh, user * 1000, 1, wait=False)
                sent += got
                refusals += refused
    limits = {reply.error.get("limit") for reply in refusals}
    assert "api_key_codes_per_hour" in limits
    assert most_in_any_window(sent, HOUR) <= 30
    assert len(sent) >= 30  # the quota, not something else, stopped them


async def test_refusals_of_the_api_without_an_end_user(api: Api, backend: RunningBackend) -> None:
    teacher = await api.teacher(VICTIM)
    token = await api.token(teacher["mesh_account_id"])
    async with aiohttp.ClientSession(backend.url) as anonymous:
        for headers in ({}, {"X-End-User-Id": ""}, {"X-End-User-Id": "a b"}):
            async with anonymous.post("/v1/flows", json={"token": token}, headers=headers) as r:
                body = await r.json()
            assert (r.status, body["error"]["code"]) == (400, "bad_request")
            assert "X-End-User-Id" in body["error"]["fields"]
    flow = await api.ok("POST", "/v1/flows", {"token": token}, status=201)  # still unused
    assert flow["state"] == "phone"
    async with (
        api_session(backend.url, "x" * 65) as too_long,
        too_long.get(f"/v1/flows/{flow['flow_id']}") as response,
    ):
        assert response.status == 400
