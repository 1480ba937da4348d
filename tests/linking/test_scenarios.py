"""Each branch of the demo data, end to end over HTTP, the way the teacher walks it."""

from __future__ import annotations

from tests.linking.http_api import Api

FEMALE_DATA = {"full_name": "Смирнова Ольга Викторовна", "birth_date": "1979-04-12"}


async def test_a_vk_id_without_profile_creates_and_links_a_new_profile(api: Api) -> None:
    teacher = await api.teacher("vkid_no_profile")
    flow = await api.start_flow(teacher["mesh_account_id"])
    assert flow["state"] == "phone" and flow["scenario"] is None
    assert flow["mesh_account"]["id"] == teacher["mesh_account_id"]

    flow = await api.step(flow["flow_id"], "phone", {"phone": teacher["phone"]})
    assert (flow["state"], flow["scenario"]) == ("password", "new_profile")
    assert flow["vk_account"] == {"masked_name": "Андрей К.", "session_authorised": False}
    assert flow["phone_masked"] == "+7 *** ***-**-02"

    flow = await api.step(flow["flow_id"], "password", {"password": teacher["vk_password"]})
    assert flow["state"] == "code"
    assert flow["challenge"]["channel"] == "call" and flow["challenge"]["code_length"] == 4

    flow = await api.enter_code(flow, teacher["phone"])
    assert flow["state"] == "personal_data" and flow["personal_data"] is None

    data = {"full_name": "Кузнецов Андрей Сергеевич", "birth_date": "1986-09-03", "gender": "male"}
    flow = await api.step(flow["flow_id"], "personal-data", data)
    assert flow["state"] == "consent" and flow["personal_data"] == data

    flow = await api.step(flow["flow_id"], "consent", {"decision": "link"})
    assert flow["state"] == "linked"
    profile = flow["linked_profile"]
    assert profile["full_name"] == data["full_name"]
    assert profile["school"] == flow["mesh_account"]["school"]

    # The MESH account now reports the link on a fresh token.
    again = await api.call(
        "POST", "/v1/flows", {"token": await api.token(teacher["mesh_account_id"])}
    )
    assert (again.status, again.error["code"]) == (409, "already_linked")
    assert again.error["profile"] == profile


async def test_b_not_authorised_asks_password_then_offers_the_existing_profile(api: Api) -> None:
    teacher = await api.teacher("profile_exists")
    flow = await api.start_flow(teacher["mesh_account_id"])
    flow = await api.step(flow["flow_id"], "phone", {"phone": teacher["phone"]})
    assert (flow["state"], flow["scenario"]) == ("password", "existing_profile")
    assert flow["profiles"] == []  # nothing disclosed before the code

    flow = await api.step(flow["flow_id"], "password", {"password": teacher["vk_password"]})
    flow = await api.enter_code(flow, teacher["phone"])
    assert flow["state"] == "profile"
    [profile] = flow["profiles"]
    assert profile["full_name"] == "Иванова Мария Петровна"
    assert profile["birth_date"] == "1985-03-14" and profile["gender"] == "female"

    flow = await api.step(flow["flow_id"], "profile", {"profile_id": profile["profile_id"]})
    assert flow["state"] == "personal_data"
    assert flow["personal_data"] == {
        "full_name": "Иванова Мария Петровна",
        "birth_date": "1985-03-14",
        "gender": "female",
    }
    # The teacher corrects her date of birth.
    corrected = {**flow["personal_data"], "birth_date": "1985-03-15"}
    flow = await api.step(flow["flow_id"], "personal-data", corrected)
    flow = await api.step(flow["flow_id"], "consent", {"decision": "link"})
    assert flow["state"] == "linked"
    assert flow["linked_profile"]["profile_id"] == profile["profile_id"]
    assert flow["linked_profile"]["birth_date"] == "1985-03-15"


async def test_b_authorised_session_skips_the_password(api: Api) -> None:
    teacher = await api.teacher("profile_exists_authorised")
    flow = await api.start_flow(teacher["mesh_account_id"])
    flow = await api.step(flow["flow_id"], "phone", {"phone": teacher["phone"]})
    assert (flow["state"], flow["scenario"]) == ("code", "existing_profile")
    assert flow["vk_account"]["session_authorised"] is True
    assert flow["challenge"]["channel"] == "call"

    flow = await api.enter_code(flow, teacher["phone"])
    [profile] = flow["profiles"]
    flow = await api.step(flow["flow_id"], "profile", {"profile_id": profile["profile_id"]})
    flow = await api.step(flow["flow_id"], "personal-data", flow["personal_data"])
    flow = await api.step(flow["flow_id"], "consent", {"decision": "link"})
    assert flow["state"] == "linked" and flow["linked_profile"] == profile


async def test_registration_without_vk_id_creates_vk_id_and_profile(api: Api) -> None:
    teacher = await api.teacher("no_vkid")
    assert teacher["vk_password"] is None
    flow = await api.start_flow(teacher["mesh_account_id"])
    flow = await api.step(flow["flow_id"], "phone", {"phone": teacher["phone"]})
    assert (flow["state"], flow["scenario"]) == ("code", "registration")
    assert flow["vk_account"] is None

    flow = await api.enter_code(flow, teacher["phone"])
    assert flow["state"] == "personal_data"
    data = {**FEMALE_DATA, "gender": "female"}
    flow = await api.step(flow["flow_id"], "personal-data", data)
    flow = await api.step(flow["flow_id"], "consent", {"decision": "link"})
    assert flow["state"] == "linked"
    assert flow["linked_profile"]["full_name"] == data["full_name"]

    # The phone now has a VK ID (recovery knows it) and a profile (another flow goes to B).
    recovery = await api.call("POST", "/v1/recoveries", {"phone": teacher["phone"]})
    assert recovery.status == 201
    colleague = await api.teacher("vkid_no_profile")
    await api.confirm_phone(colleague["mesh_account_id"], teacher["phone"])
    other = await api.start_flow(colleague["mesh_account_id"])
    other = await api.step(other["flow_id"], "phone", {"phone": teacher["phone"]})
    assert other["scenario"] == "existing_profile"


async def test_already_linked_account_is_reported_with_its_profile(api: Api) -> None:
    teacher = await api.teacher("already_linked")
    token = await api.token(teacher["mesh_account_id"])
    error = await api.refused("POST", "/v1/flows", {"token": token}, "already_linked", 409)
    assert error["profile"]["full_name"] == teacher["full_name"]
    assert error["profile"]["profile_id"].startswith("sf-")


async def test_scenario_is_decided_by_the_phone_not_the_mesh_account(api: Api) -> None:
    # The "no VK ID" teacher's e-journal has the number of a VK ID with a profile: that is B.
    newcomer = await api.teacher("no_vkid")
    owner = await api.teacher("profile_exists")
    await api.confirm_phone(newcomer["mesh_account_id"], owner["phone"])
    flow = await api.start_flow(newcomer["mesh_account_id"])
    flow = await api.step(flow["flow_id"], "phone", {"phone": owner["phone"]})
    assert (flow["state"], flow["scenario"]) == ("password", "existing_profile")
    # And the other way round: a teacher with a profile confirms a number without any VK ID.
    await api.confirm_phone(owner["mesh_account_id"], "+79161112299")
    flow = await api.start_flow(owner["mesh_account_id"])
    flow = await api.step(flow["flow_id"], "phone", {"phone": "+79161112299"})
    assert (flow["state"], flow["scenario"]) == ("code", "registration")


async def test_cancel_at_consent_links_nothing(api: Api) -> None:
    teacher, flow = await api.flow_at_code("profile_exists_authorised")
    flow = await api.enter_code(flow, teacher["phone"])
    flow = await api.step(
        flow["flow_id"], "profile", {"profile_id": flow["profiles"][0]["profile_id"]}
    )
    flow = await api.step(flow["flow_id"], "personal-data", flow["personal_data"])
    flow = await api.step(flow["flow_id"], "consent", {"decision": "cancel"})
    assert flow["state"] == "cancelled" and flow["linked_profile"] is None
    await api.refused(
        "POST", f"/v1/flows/{flow['flow_id']}/consent", {"decision": "link"}, "wrong_state", 409
    )
    fresh = await api.start_flow(teacher["mesh_account_id"])  # not linked: a new flow starts
    assert fresh["state"] == "phone"


async def test_switch_account_returns_to_the_phone_window(api: Api) -> None:
    teacher, flow = await api.flow_at_code("profile_exists_authorised")
    flow = await api.enter_code(flow, teacher["phone"])
    assert flow["state"] == "profile"
    flow = await api.step(flow["flow_id"], "switch-account")
    assert flow["state"] == "phone"
    assert flow["scenario"] is None and flow["phone_masked"] is None and flow["profiles"] == []
    # Another account of the teacher (its number confirmed in the e-journal): no profile → A.
    other = await api.teacher("vkid_no_profile")
    await api.confirm_phone(teacher["mesh_account_id"], other["phone"])
    flow = await api.step(flow["flow_id"], "phone", {"phone": other["phone"]})
    assert (flow["state"], flow["scenario"]) == ("password", "new_profile")


async def test_a_second_profile_for_one_phone_is_never_created(api: Api) -> None:
    teacher = await api.teacher("vkid_no_profile")
    data = {"full_name": "Кузнецов Андрей Сергеевич", "birth_date": "1986-09-03", "gender": "male"}
    flows = []
    for case in ("vkid_no_profile", "no_vkid"):  # two MESH accounts, one phone
        mesh_account_id = (await api.teacher(case))["mesh_account_id"]
        await api.confirm_phone(mesh_account_id, teacher["phone"])
        flow = await api.start_flow(mesh_account_id)
        flow = await api.step(flow["flow_id"], "phone", {"phone": teacher["phone"]})
        flow = await api.step(flow["flow_id"], "password", {"password": teacher["vk_password"]})
        flow = await api.enter_code(flow, teacher["phone"])
        flows.append(await api.step(flow["flow_id"], "personal-data", data))
    first = await api.step(flows[0]["flow_id"], "consent", {"decision": "link"})
    assert first["state"] == "linked"
    # The second flow's «Привязать»: no second profile. It moves on to B, where she chooses the
    # profile that now exists (no loop back to «Привязать»).
    error = await api.refused(
        "POST",
        f"/v1/flows/{flows[1]['flow_id']}/consent",
        {"decision": "link"},
        "scenario_changed",
        409,
    )
    assert (error["scenario"], error["state"]) == ("existing_profile", "profile")
    second = await api.get_flow(flows[1]["flow_id"])
    assert (second["state"], second["scenario"]) == ("profile", "existing_profile")
    assert [p["profile_id"] for p in second["profiles"]] == [first["linked_profile"]["profile_id"]]
    second = await api.step(
        second["flow_id"], "profile", {"profile_id": second["profiles"][0]["profile_id"]}
    )
    second = await api.step(second["flow_id"], "personal-data", second["personal_data"])
    second = await api.step(second["flow_id"], "consent", {"decision": "link"})
    assert second["linked_profile"]["profile_id"] == first["linked_profile"]["profile_id"]


async def test_registration_meets_a_vk_id_made_meanwhile_and_goes_on_in_a(api: Api) -> None:
    # She started without a VK ID; before her «Привязать» another flow on the same number (her
    # second MESH account) registered a VK ID and created a profile.
    teacher = await api.teacher("no_vkid")
    data = {
        "full_name": "Смирнова Ольга Викторовна",
        "birth_date": "1979-04-12",
        "gender": "female",
    }
    other = await api.teacher("vkid_no_profile")
    await api.confirm_phone(other["mesh_account_id"], teacher["phone"])
    flows = []
    for mesh_account_id in (teacher["mesh_account_id"], other["mesh_account_id"]):
        flow = await api.start_flow(mesh_account_id)
        flow = await api.step(flow["flow_id"], "phone", {"phone": teacher["phone"]})
        assert flow["scenario"] == "registration"
        flow = await api.enter_code(flow, teacher["phone"])
        api.clock.advance(56)
        flows.append(await api.step(flow["flow_id"], "personal-data", data))
    first = await api.step(flows[0]["flow_id"], "consent", {"decision": "link"})
    assert first["state"] == "linked"  # a VK ID and a profile now exist on the number
    error = await api.refused(
        "POST",
        f"/v1/flows/{flows[1]['flow_id']}/consent",
        {"decision": "link"},
        "scenario_changed",
        409,
    )
    # The VK ID made by registration has no password: the proven phone is enough.
    assert (error["scenario"], error["state"]) == ("existing_profile", "profile")


async def test_vpn_is_refused_at_phone_consent_and_recovery_until_turned_off(api: Api) -> None:
    teacher = await api.teacher("vpn")
    flow = await api.start_flow(teacher["mesh_account_id"])
    path = f"/v1/flows/{flow['flow_id']}/phone"
    error = await api.refused("POST", path, {"phone": teacher["phone"]}, "vpn_detected", 403)
    assert "VPN" in error["detail"]
    assert (await api.get_flow(flow["flow_id"]))["state"] == "phone"  # nothing changed
    await api.refused("POST", "/v1/recoveries", {"phone": teacher["phone"]}, "vpn_detected", 403)

    off = await api.ok(
        "POST", "/dev/vpn", {"mesh_account_id": teacher["mesh_account_id"], "enabled": False}
    )
    assert off == {"enabled": False}
    flow = await api.step(flow["flow_id"], "phone", {"phone": teacher["phone"]})
    flow = await api.step(flow["flow_id"], "password", {"password": teacher["vk_password"]})
    flow = await api.enter_code(flow, teacher["phone"])
    data = {"full_name": teacher["full_name"], "birth_date": "1988-12-05", "gender": "male"}
    flow = await api.step(flow["flow_id"], "personal-data", data)

    # VPN back on before «Привязать»: the consent step refuses too, and links nothing.
    await api.ok("POST", "/dev/vpn", {"phone": teacher["phone"], "enabled": True})
    consent = f"/v1/flows/{flow['flow_id']}/consent"
    await api.refused("POST", consent, {"decision": "link"}, "vpn_detected", 403)
    assert (await api.get_flow(flow["flow_id"]))["state"] == "consent"
    await api.ok("POST", "/dev/vpn", {"phone": teacher["phone"], "enabled": False})
    flow = await api.step(flow["flow_id"], "consent", {"decision": "link"})
    assert flow["state"] == "linked"


async def test_flow_expires_after_its_lifetime(api: Api, backend) -> None:
    teacher = await api.teacher("vkid_no_profile")
    flow = await api.start_flow(teacher["mesh_account_id"])
    api.clock.advance(backend.settings.flow_lifetime)
    await api.refused(
        "POST",
        f"/v1/flows/{flow['flow_id']}/phone",
        {"phone": teacher["phone"]},
        "flow_expired",
        410,
    )
    await api.refused("GET", f"/v1/flows/{flow['flow_id']}", None, "flow_expired", 410)
