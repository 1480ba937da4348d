"""«Начать заново» on the backend: a fresh flow for the same MESH account and Telegram user,
from any unfinished step or after «Отмена», with every budget carried over."""

from __future__ import annotations

from typing import Any

from tests.linking.http_api import Api

DETAILS = {"full_name": "Кузнецов Андрей Сергеевич", "birth_date": "1986-09-03", "gender": "male"}


async def restart(api: Api, flow: dict[str, Any]) -> dict[str, Any]:
    return await api.ok("POST", f"/v1/flows/{flow['flow_id']}/restart", {}, status=201)


async def test_restart_at_consent_opens_a_fresh_flow_that_links(api: Api) -> None:
    teacher, flow = await api.flow_at_code("vkid_no_profile")
    flow = await api.enter_code(flow, teacher["phone"])
    flow = await api.step(flow["flow_id"], "personal-data", DETAILS)
    assert flow["state"] == "consent"

    fresh = await restart(api, flow)

    assert fresh["flow_id"] != flow["flow_id"]
    assert fresh["state"] == "phone" and fresh["scenario"] is None
    assert fresh["mesh_account"] == flow["mesh_account"]
    assert fresh["personal_data"] is None and fresh["phone_masked"] is None
    assert (await api.get_flow(flow["flow_id"]))["state"] == "cancelled"
    await api.refused(
        "POST", f"/v1/flows/{flow['flow_id']}/consent", {"decision": "link"}, "wrong_state", 409
    )
    # The fresh flow goes the whole way again; the old call code's cooldown is long over.
    api.clock.advance(56)
    fresh = await api.step(fresh["flow_id"], "phone", {"phone": teacher["phone"]})
    fresh = await api.step(fresh["flow_id"], "password", {"password": teacher["vk_password"]})
    fresh = await api.enter_code(fresh, teacher["phone"])
    fresh = await api.step(fresh["flow_id"], "personal-data", DETAILS)
    fresh = await api.step(fresh["flow_id"], "consent", {"decision": "link"})
    assert fresh["state"] == "linked"


async def test_restart_after_cancel_and_no_restart_once_linked(api: Api) -> None:
    teacher, flow = await api.flow_at_code("profile_exists_authorised")
    flow = await api.enter_code(flow, teacher["phone"])
    profile_id = flow["profiles"][0]["profile_id"]
    flow = await api.step(flow["flow_id"], "profile", {"profile_id": profile_id})
    flow = await api.step(flow["flow_id"], "personal-data", flow["personal_data"])
    flow = await api.step(flow["flow_id"], "consent", {"decision": "cancel"})

    fresh = await restart(api, flow)  # «Начать заново» after «Отмена»: no e-journal needed
    api.clock.advance(56)
    fresh = await api.step(fresh["flow_id"], "phone", {"phone": teacher["phone"]})
    fresh = await api.enter_code(fresh, teacher["phone"])
    fresh = await api.step(fresh["flow_id"], "profile", {"profile_id": profile_id})
    fresh = await api.step(fresh["flow_id"], "personal-data", fresh["personal_data"])
    fresh = await api.step(fresh["flow_id"], "consent", {"decision": "link"})
    assert fresh["state"] == "linked"

    for finished in (flow, fresh):  # linked: there is nothing to start over
        error = await api.refused(
            "POST", f"/v1/flows/{finished['flow_id']}/restart", {}, "already_linked", 409
        )
        assert error["profile"]["profile_id"] == profile_id


async def test_restart_gives_no_fresh_cooldown_or_code(api: Api) -> None:
    teacher, flow = await api.flow_at_code("profile_exists_authorised")
    assert len(await api.inbox(teacher["phone"])) == 1

    fresh = await restart(api, flow)
    assert len(await api.inbox(teacher["phone"])) == 1  # a restart sends nothing
    error = await api.refused(
        "POST",
        f"/v1/flows/{fresh['flow_id']}/phone",
        {"phone": teacher["phone"]},
        "resend_too_early",
        429,
    )
    assert 0 < error["retry_after"] <= 56  # the first flow's call still counts
    api.clock.advance(error["retry_after"])
    fresh = await api.step(fresh["flow_id"], "phone", {"phone": teacher["phone"]})
    assert fresh["state"] == "code"


async def test_restart_is_how_to_change_the_number_after_the_code(api: Api) -> None:
    teacher, flow = await api.flow_at_code("vkid_no_profile")
    flow = await api.enter_code(flow, teacher["phone"])
    assert flow["state"] == "personal_data"
    await api.refused(  # past the code the phone window is gone in this flow
        "POST",
        f"/v1/flows/{flow['flow_id']}/phone",
        {"phone": teacher["phone"]},
        "wrong_state",
        409,
    )
    other = await api.teacher("no_vkid")
    await api.confirm_phone(teacher["mesh_account_id"], other["phone"])  # in the e-journal

    fresh = await restart(api, flow)
    fresh = await api.step(fresh["flow_id"], "phone", {"phone": other["phone"]})
    assert (fresh["state"], fresh["scenario"]) == ("code", "registration")


async def test_restart_twice_from_the_same_old_flow_ends_the_newer_one_too(api: Api) -> None:
    # A restart answered but never seen (the bot died): the old id is restarted again.
    teacher, flow = await api.flow_at_code("vkid_no_profile")
    first = await restart(api, flow)
    second = await restart(api, flow)
    assert (await api.get_flow(first["flow_id"]))["state"] == "cancelled"
    assert second["state"] == "phone"
    assert teacher["mesh_account_id"] == second["mesh_account"]["id"]
