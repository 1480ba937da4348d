"""Guesses fired all at once cannot overspend a number's budget, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio

import pytest

from services.clock import FakeClock
from services.linking.in_process import RunningBackend, serve_backend
from tests.linking.http_api import Api, api_session
from tests.security.attacks import VICTIM, unused_code


async def test_concurrent_guesses_stop_at_the_number_budget_on_sqlite(
    backend: RunningBackend,
) -> None:
    await concurrent_guesses_stop_at_the_number_budget(backend)


@pytest.mark.postgres
async def test_concurrent_guesses_stop_at_the_number_budget_on_postgres(postgres_url: str) -> None:
    overrides = {"database_url": postgres_url}
    async with serve_backend(demo=True, clock=FakeClock(), settings_overrides=overrides) as backend:
        await concurrent_guesses_stop_at_the_number_budget(backend)


async def concurrent_guesses_stop_at_the_number_budget(any_backend: RunningBackend) -> None:
    settings = any_backend.settings
    clock = any_backend.clock
    assert isinstance(clock, FakeClock)
    async with api_session(any_backend.url, "666") as session:
        api = Api(session, clock)
        victim = await api.teacher(VICTIM)
        phone = victim["phone"]
        # Three codes for her number at once: two of his flows (two e-journal accounts
        # claiming her number) and a recovery — fifteen attempts on paper.
        owners = []
        for case in ("no_vkid", "vkid_no_profile"):
            mesh = (await api.teacher(case))["mesh_account_id"]
            await api.confirm_phone(mesh, phone)
            flow = await api.start_flow(mesh)
            await api.step(flow["flow_id"], "phone", {"phone": phone})
            owners.append(f"/v1/flows/{flow['flow_id']}")
            if len(owners) == 1:
                recovery = await api.ok("POST", "/v1/recoveries", {"phone": phone}, status=201)
                owners.append(f"/v1/recoveries/{recovery['recovery_id']}")
                clock.advance(settings.call_code_resend_after)
        challenges = [(await api.ok("GET", owner))["challenge"] for owner in owners]
        on_paper = sum(challenge["attempts_left"] for challenge in challenges)
        assert on_paper > settings.destination_wrong_codes_per_day

        delivered = {item["code"] for item in await api.inbox(phone)}
        guesses = [
            api.call(
                "POST", f"{owner}/code/verify", {"code": unused_code(c["code_length"], delivered)}
            )
            for owner, c in zip(owners, challenges, strict=True)
            for _ in range(c["attempts_left"])
        ]
        replies = await asyncio.gather(*guesses)

        after = [(await api.ok("GET", owner))["challenge"] for owner in owners]
    checked = on_paper - sum(challenge["attempts_left"] for challenge in after)
    codes = [reply.error["code"] for reply in replies]
    assert all(reply.status < 500 for reply in replies), codes
    assert checked == settings.destination_wrong_codes_per_day, codes
    assert "confirmation_locked" in codes
    assert set(codes) <= {"code_invalid", "code_burnt", "confirmation_locked", "wrong_state"}
