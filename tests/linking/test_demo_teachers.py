"""POST /dev/accounts: fresh demo teachers of every case, so the demo never runs out.

Also what GET /dev/accounts tells the sandbox now: the link state and the password a teacher knows
after a recovery.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import pytest

from services.linking.demo import SEEDED_CASES
from services.linking.passwords import PasswordPolicy
from services.linking.phones import validate_phone
from services.linking.settings import LinkingSettings
from tests.linking.http_api import Api
from tests.linking.test_recovery import NEW_PASSWORD, finish, path

ACCOUNT_FIELDS = {
    "mesh_account_id",
    "full_name",
    "phone",
    "email",
    "vk_password",
    "case",
    "school",
    "birth_date",
    "gender",
    "vpn",
    "authenticator_app",
    "linked_profile",
}


async def new_teacher(api: Api, case: str) -> dict[str, Any]:
    return await api.ok("POST", "/dev/accounts", {"case": case}, status=201)


async def link_in_scenario_a(api: Api, teacher: dict[str, Any]) -> dict[str, Any]:
    flow = await api.start_flow(teacher["mesh_account_id"])
    flow = await api.step(flow["flow_id"], "phone", {"phone": teacher["phone"]})
    flow = await api.step(flow["flow_id"], "password", {"password": teacher["vk_password"]})
    flow = await api.enter_code(flow, teacher["phone"])
    data = {
        "full_name": teacher["full_name"],
        "birth_date": teacher["birth_date"],
        "gender": teacher["gender"],
    }
    flow = await api.step(flow["flow_id"], "personal-data", data)
    flow = await api.step(flow["flow_id"], "consent", {"decision": "link"})
    assert flow["state"] == "linked", flow
    return flow


async def test_a_fresh_teacher_of_every_case_has_the_shape_of_the_seeded_one(api: Api) -> None:
    seeded = {account["case"]: account for account in await api.ok("GET", "/dev/accounts")}
    policy = PasswordPolicy(LinkingSettings())
    created = [await new_teacher(api, case) for case in SEEDED_CASES]
    for fresh in created:
        template = seeded[fresh["case"]]
        assert set(fresh) == set(template) == ACCOUNT_FIELDS
        assert fresh["mesh_account_id"] not in {t["mesh_account_id"] for t in seeded.values()}
        assert validate_phone(fresh["phone"]) == fresh["phone"]
        assert (fresh["vk_password"] is None) == (template["vk_password"] is None)
        assert (fresh["email"] is None) == (template["email"] is None)
        assert fresh["authenticator_app"] == template["authenticator_app"]
        assert fresh["vpn"] == template["vpn"]
        assert (fresh["linked_profile"] is None) == (template["linked_profile"] is None)
        if fresh["vk_password"] is not None:
            assert policy.unmet(fresh["vk_password"]) == []
        assert await api.ok("GET", f"/dev/accounts/{fresh['mesh_account_id']}") == fresh
    assert len({t["phone"] for t in created}) == len({t["mesh_account_id"] for t in created}) == 9
    listed = await api.ok("GET", "/dev/accounts")
    assert listed == [*seeded.values(), *created]  # the seeded nine first, then in creation order


async def test_a_fresh_teacher_links_and_the_journal_can_see_it(api: Api) -> None:
    teacher = await new_teacher(api, "vkid_no_profile")
    assert teacher["linked_profile"] is None
    flow = await link_in_scenario_a(api, teacher)
    now = await api.ok("GET", f"/dev/accounts/{teacher['mesh_account_id']}")
    assert now["linked_profile"] == flow["linked_profile"]
    assert now["linked_profile"]["full_name"] == teacher["full_name"]
    # The used-up case is not used up: another fresh teacher of it starts from the beginning.
    again = await new_teacher(api, "vkid_no_profile")
    flow = await api.start_flow(again["mesh_account_id"])
    assert flow["state"] == "phone"


async def test_already_linked_teachers_show_their_profile(api: Api) -> None:
    seeded = await api.teacher("already_linked")
    fresh = await new_teacher(api, "already_linked")
    for teacher in (seeded, fresh):
        assert teacher["linked_profile"]["full_name"] == teacher["full_name"]
        token = await api.token(teacher["mesh_account_id"])
        await api.refused("POST", "/v1/flows", {"token": token}, "already_linked", 409)


async def test_after_a_recovery_the_teacher_knows_her_new_password(
    api: Api, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    teacher = await new_teacher(api, "forgot_password_email")
    recovery = await api.ok("POST", "/v1/recoveries", {"phone": teacher["phone"]}, status=201)
    code = await api.last_code(teacher["phone"])
    recovery = await api.ok("POST", path(recovery, "code/verify"), {"code": code})
    recovery = await api.ok("POST", path(recovery, "confirm"), {"confirmed": True})
    recovery = await api.ok("POST", path(recovery, "method"), {"method": "email"})
    mail = await api.last_email_code(teacher["email"])
    recovery = await api.ok("POST", path(recovery, "method/verify"), {"code": mail})
    # A mismatched repeat changes nothing.
    await api.ok("POST", path(recovery, "password"), {"password": NEW_PASSWORD})
    await api.refused(
        "POST",
        path(recovery, "password/confirm"),
        {"password": "Other#Parol2026", "logout_other_sessions": False},
        "password_mismatch",
        422,
    )
    mesh_id = teacher["mesh_account_id"]
    assert (await api.ok("GET", f"/dev/accounts/{mesh_id}"))["vk_password"] == teacher[
        "vk_password"
    ]
    assert (await finish(api, recovery, logout=False))["state"] == "done"
    assert (await api.ok("GET", f"/dev/accounts/{mesh_id}"))["vk_password"] == NEW_PASSWORD
    others = [a for a in await api.ok("GET", "/dev/accounts") if a["mesh_account_id"] != mesh_id]
    assert NEW_PASSWORD not in {a["vk_password"] for a in others}
    # Remembered for the sandbox's phone, never written to a table (or its SQL log).
    assert NEW_PASSWORD not in caplog.text


async def test_many_teachers_at_once_are_all_distinct(api: Api) -> None:
    created = await asyncio.gather(*(new_teacher(api, "profile_exists") for _ in range(20)))
    assert len({t["mesh_account_id"] for t in created}) == 20
    assert len({t["phone"] for t in created}) == 20


async def test_an_unknown_case_is_refused_and_creates_nothing(api: Api) -> None:
    before = await api.ok("GET", "/dev/accounts")
    for body in ({"case": "admin"}, {"case": ""}, {"case": 1}, {}):
        error = await api.refused("POST", "/dev/accounts", body, "bad_request", 400)
        assert "case" in error["fields"]
    assert await api.ok("GET", "/dev/accounts") == before
    await api.refused("GET", "/dev/accounts/mesh-9999", None, "not_found", 404)
