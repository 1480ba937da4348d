"""The same backend on PostgreSQL: a core scenario and the concurrency rules.

Each test gets a fresh database (`postgres_url`, tests/support/postgres.py).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from services.clock import FakeClock
from services.linking.in_process import serve_backend
from tests.linking.hostile import assert_hostile_bodies_get_4xx
from tests.linking.http_api import Api, api_session

pytestmark = pytest.mark.postgres


@pytest.fixture
async def pg_api(postgres_url: str) -> AsyncIterator[Api]:
    clock = FakeClock()
    overrides = {"database_url": postgres_url}
    async with (
        serve_backend(demo=True, clock=clock, settings_overrides=overrides) as backend,
        api_session(backend.url) as session,
    ):
        assert backend.settings.database_url.startswith("postgresql+asyncpg://")
        yield Api(session, clock)


async def test_new_profile_is_linked_on_postgres(pg_api: Api) -> None:
    teacher, flow = await pg_api.flow_at_code("vkid_no_profile")
    flow = await pg_api.enter_code(flow, teacher["phone"])
    data = {"full_name": teacher["full_name"], "birth_date": "1986-09-03", "gender": "male"}
    flow = await pg_api.step(flow["flow_id"], "personal-data", data)
    flow = await pg_api.step(flow["flow_id"], "consent", {"decision": "link"})
    assert flow["state"] == "linked"
    assert flow["linked_profile"]["birth_date"] == "1986-09-03"
    assert flow["expires_at"] == "2026-11-26T07:00:00Z"  # aware UTC survives the round trip


async def test_concurrent_verifications_on_postgres(pg_api: Api) -> None:
    teacher, flow = await pg_api.flow_at_code("vkid_no_profile")
    code = await pg_api.last_code(teacher["phone"])
    path = f"/v1/flows/{flow['flow_id']}/code/verify"
    replies = await asyncio.gather(*(pg_api.call("POST", path, {"code": code}) for _ in range(8)))
    assert [reply.status for reply in replies].count(200) == 1, [r.body for r in replies]
    assert all(reply.status < 500 for reply in replies)
    assert (await pg_api.get_flow(flow["flow_id"]))["state"] == "personal_data"


async def test_concurrent_wrong_codes_never_overspend_attempts_on_postgres(pg_api: Api) -> None:
    teacher, flow = await pg_api.flow_at_code("vkid_no_profile")
    code = await pg_api.last_code(teacher["phone"])
    wrong = "".join(str((int(ch) + 1) % 10) for ch in code)
    path = f"/v1/flows/{flow['flow_id']}/code/verify"
    replies = await asyncio.gather(*(pg_api.call("POST", path, {"code": wrong}) for _ in range(9)))
    codes = sorted(reply.error["code"] for reply in replies)
    # Five attempts: four `code_invalid`, one that burns it, the rest find it burnt or gone.
    assert codes.count("code_invalid") == 4, codes
    assert set(codes) <= {"code_invalid", "code_burnt", "no_active_code"}
    challenge = (await pg_api.get_flow(flow["flow_id"]))["challenge"]
    assert challenge["attempts_left"] == 0


async def test_concurrent_token_redemption_on_postgres(pg_api: Api) -> None:
    token = await pg_api.token("mesh-1002")
    replies = await asyncio.gather(
        *(pg_api.call("POST", "/v1/flows", {"token": token}) for _ in range(6))
    )
    assert sorted(reply.status for reply in replies) == [201, 409, 409, 409, 409, 409]


async def test_hostile_bodies_and_ids_on_postgres(pg_api: Api) -> None:
    await assert_hostile_bodies_get_4xx(pg_api)
    for path in ("/v1/flows/%00", "/v1/flows/" + "x" * 300, "/v1/recoveries/%E2%98%83"):
        await pg_api.refused("GET", path, None, "not_found", 404)
