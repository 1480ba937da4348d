"""«Забыли или не установили пароль?»: each recovery method, the policy, the repeat, sessions."""

from __future__ import annotations

from typing import Any

from tests.linking.http_api import Api

NEW_PASSWORD = "Novyi#Parol2026"


async def start(api: Api, case: str) -> tuple[dict[str, Any], dict[str, Any]]:
    teacher = await api.teacher(case)
    recovery = await api.ok("POST", "/v1/recoveries", {"phone": teacher["phone"]}, status=201)
    return teacher, recovery


def path(recovery: dict[str, Any], action: str = "") -> str:
    return f"/v1/recoveries/{recovery['recovery_id']}" + (f"/{action}" if action else "")


async def up_to_method(api: Api, case: str) -> tuple[dict[str, Any], dict[str, Any]]:
    teacher, recovery = await start(api, case)
    code = await api.last_code(teacher["phone"])
    recovery = await api.ok("POST", path(recovery, "code/verify"), {"code": code})
    recovery = await api.ok("POST", path(recovery, "confirm"), {"confirmed": True})
    assert recovery["state"] == "method"
    return teacher, recovery


async def finish(api: Api, recovery: dict[str, Any], logout: bool) -> dict[str, Any]:
    recovery = await api.ok("POST", path(recovery, "password"), {"password": NEW_PASSWORD})
    assert recovery["state"] == "repeat_password"
    return await api.ok(
        "POST",
        path(recovery, "password/confirm"),
        {"password": NEW_PASSWORD, "logout_other_sessions": logout},
    )


async def password_works(api: Api, teacher: dict[str, Any], password: str) -> bool:
    other = await api.start_flow(teacher["mesh_account_id"])
    other = await api.step(other["flow_id"], "phone", {"phone": teacher["phone"]})
    if other["state"] != "password":
        return True
    reply = await api.call("POST", f"/v1/flows/{other['flow_id']}/password", {"password": password})
    return reply.status == 200


async def test_recovery_by_email_changes_the_password(api: Api) -> None:
    teacher, recovery = await start(api, "forgot_password_email")
    assert recovery["state"] == "code"
    assert recovery["account"] is None and recovery["methods"] == []  # nothing before the SMS
    assert recovery["challenge"]["channel"] == "sms" and recovery["challenge"]["resend_after"] == 75

    sms = await api.last_code(teacher["phone"])
    recovery = await api.ok("POST", path(recovery, "code/verify"), {"code": sms})
    assert recovery["state"] == "confirm_account"
    assert recovery["account"] == {"masked_name": "Екатерина М."}
    assert recovery["methods"] == ["email"]
    assert recovery["email_masked"] == "ka***@mail.ru"

    recovery = await api.ok("POST", path(recovery, "confirm"), {"confirmed": True})
    recovery = await api.ok("POST", path(recovery, "method"), {"method": "email"})
    assert recovery["state"] == "method_code"
    assert recovery["challenge"]["channel"] == "email"
    assert recovery["challenge"]["sent_to"] == "ka***@mail.ru"
    assert recovery["challenge"]["resend_after"] == 291

    # «Отправить код повторно 4:51»
    api.clock.advance(200)
    error = await api.refused("POST", path(recovery, "method/code"), {}, "resend_too_early", 429)
    assert error["retry_after"] == 91
    api.clock.advance(91)
    recovery = await api.ok("POST", path(recovery, "method/code"), {})
    mail = await api.last_email_code(teacher["email"])
    recovery = await api.ok("POST", path(recovery, "method/verify"), {"code": mail})
    assert recovery["state"] == "new_password"

    recovery = await finish(api, recovery, logout=False)
    assert recovery["state"] == "done" and recovery["logout_other_sessions"] is False
    assert await password_works(api, teacher, NEW_PASSWORD)
    assert not await password_works(api, teacher, teacher["vk_password"])


async def test_recovery_by_the_code_generator_app(api: Api) -> None:
    teacher, recovery = await up_to_method(api, "forgot_password_app")
    assert recovery["methods"] == ["totp", "friends"]
    recovery = await api.ok("POST", path(recovery, "method"), {"method": "totp"})
    assert recovery["challenge"]["channel"] == "totp"
    assert recovery["challenge"]["sent_to"] is None
    assert recovery["challenge"]["resend_available_at"] is None
    # The app shows codes itself: nothing to resend.
    await api.refused("POST", path(recovery, "method/code"), {}, "channel_unavailable", 422)

    app_code = await api.totp(teacher["phone"])
    wrong = "000000" if app_code != "000000" else "111111"
    error = await api.refused(
        "POST", path(recovery, "method/verify"), {"code": wrong}, "code_invalid", 422
    )
    assert error["attempts_left"] == 4
    recovery = await api.ok("POST", path(recovery, "method/verify"), {"code": app_code})
    assert recovery["state"] == "new_password"
    recovery = await finish(api, recovery, logout=True)
    assert recovery["state"] == "done"
    assert await password_works(api, teacher, NEW_PASSWORD)


async def friends_inbox(api: Api, phone: str) -> list[dict[str, Any]]:
    reply = await api.call("GET", "/dev/friends", params={"phone": phone})
    assert reply.status == 200, reply.body
    return reply.body


async def test_trusted_friends_each_give_a_code_and_the_password_changes(api: Api) -> None:
    teacher, recovery = await up_to_method(api, "forgot_password_friends")
    assert recovery["methods"] == ["friends"]
    for method in ("email", "totp"):
        await api.refused(
            "POST", path(recovery, "method"), {"method": method}, "channel_unavailable", 422
        )
    recovery = await api.ok("POST", path(recovery, "method"), {"method": "friends"})
    assert recovery["state"] == "friends"
    names = [friend["name"] for friend in recovery["friends"]]
    assert len(names) == 3 and len(set(names)) == 3
    assert not any(friend["confirmed"] for friend in recovery["friends"])
    assert recovery["challenge"]["channel"] == "friend"
    assert recovery["challenge"]["sent_to"] == names[0]  # the friend whose code comes next
    await api.refused(
        "POST", path(recovery, "password"), {"password": NEW_PASSWORD}, "wrong_state", 409
    )
    inboxes = await friends_inbox(api, teacher["phone"])
    assert [inbox["name"] for inbox in inboxes] == names
    assert all(len(inbox["inbox"]) == 1 for inbox in inboxes)  # one code each, nothing to her
    assert "Анна Л." in inboxes[0]["inbox"][0]["text"]  # the friend is told who asks
    assert len(await api.inbox(teacher["phone"])) == 1  # only the recovery's own SMS

    # A friend's code typed for the wrong friend is a wrong code for the one asked.
    wrong = inboxes[1]["inbox"][0]["code"]
    if wrong != inboxes[0]["inbox"][0]["code"]:
        error = await api.refused(
            "POST", path(recovery, "friends/verify"), {"code": wrong}, "code_invalid", 422
        )
        assert error["attempts_left"] == 4
    for n, inbox in enumerate(inboxes):
        recovery = await api.ok(
            "POST", path(recovery, "friends/verify"), {"code": inbox["inbox"][-1]["code"]}
        )
        assert [f["confirmed"] for f in recovery["friends"]] == [i <= n for i in range(3)]
        if n < 2:
            assert recovery["state"] == "friends"
            assert recovery["challenge"]["sent_to"] == names[n + 1]
    assert recovery["state"] == "new_password"
    recovery = await finish(api, recovery, logout=False)
    assert recovery["state"] == "done"
    assert await password_works(api, teacher, NEW_PASSWORD)


async def test_friends_codes_are_sent_once_and_resent_only_after_the_cooldown(api: Api) -> None:
    teacher, recovery = await up_to_method(api, "forgot_password_friends")
    recovery = await api.ok("POST", path(recovery, "method"), {"method": "friends"})
    first = await friends_inbox(api, teacher["phone"])
    recovery = await api.ok(
        "POST", path(recovery, "friends/verify"), {"code": first[0]["inbox"][0]["code"]}
    )
    # Choosing friends again (back from another method) keeps the codes in flight.
    recovery = await api.ok("POST", path(recovery, "method"), {"method": "friends"})
    assert [len(i["inbox"]) for i in await friends_inbox(api, teacher["phone"])] == [1, 1, 1]
    error = await api.refused("POST", path(recovery, "friends/code"), {}, "resend_too_early", 429)
    api.clock.advance(error["retry_after"])
    recovery = await api.ok("POST", path(recovery, "friends/code"), {})
    # Only the friends still waiting get a new code; the first one gave hers already.
    assert [len(i["inbox"]) for i in await friends_inbox(api, teacher["phone"])] == [1, 2, 2]
    assert [f["confirmed"] for f in recovery["friends"]] == [True, False, False]


async def test_a_vk_id_made_by_registration_is_recovered_by_its_sms(api: Api) -> None:
    created = await api.ok("POST", "/dev/accounts", {"case": "registered_no_password"}, 201)
    assert created["vk_password"] is None and created["email"] is None
    teacher, recovery = await start(api, "registered_no_password")
    code = await api.last_code(teacher["phone"])
    recovery = await api.ok("POST", path(recovery, "code/verify"), {"code": code})
    assert recovery["methods"] == ["sms"]  # nothing else: the SMS code was the confirmation
    recovery = await api.ok("POST", path(recovery, "confirm"), {"confirmed": True})
    assert recovery["state"] == "new_password"
    recovery = await finish(api, recovery, logout=False)
    assert recovery["state"] == "done"
    assert await password_works(api, teacher, NEW_PASSWORD)
    now = await api.ok("GET", f"/dev/accounts/{teacher['mesh_account_id']}")
    assert now["vk_password"] == NEW_PASSWORD  # the sandbox's phone shows what she set


async def test_not_my_account_cancels(api: Api) -> None:
    teacher, recovery = await start(api, "forgot_password_email")
    code = await api.last_code(teacher["phone"])
    await api.ok("POST", path(recovery, "code/verify"), {"code": code})
    recovery = await api.ok("POST", path(recovery, "confirm"), {"confirmed": False})
    assert recovery["state"] == "cancelled"
    await api.refused("POST", path(recovery, "method"), {"method": "email"}, "wrong_state", 409)


async def test_policy_reports_every_unmet_rule(api: Api) -> None:
    _teacher, recovery = await up_to_method(api, "forgot_password_email")
    recovery = await api.ok("POST", path(recovery, "method"), {"method": "email"})
    mail = await api.last_email_code((await api.teacher("forgot_password_email"))["email"])
    recovery = await api.ok("POST", path(recovery, "method/verify"), {"code": mail})
    cases = {
        "": ["min_length", "uppercase", "lowercase", "digit", "special"],
        "abc": ["min_length", "uppercase", "digit", "special"],
        "abcdefgh": ["uppercase", "digit", "special"],
        "Abcdefgh": ["digit", "special"],
        "Abcdefg1": ["special"],
        "ABCDEFG1!": ["lowercase"],
        "abcdefg1!": ["uppercase"],
        "Abcdefgh!": ["digit"],
        "Ab1!": ["min_length"],
    }
    for password, unmet in cases.items():
        error = await api.refused(
            "POST", path(recovery, "password"), {"password": password}, "weak_password", 422
        )
        assert error["unmet"] == unmet, password
    assert (await api.ok("GET", path(recovery)))["state"] == "new_password"


async def test_mismatched_repeat_goes_back_to_the_new_password(api: Api) -> None:
    teacher, recovery = await up_to_method(api, "forgot_password_email")
    recovery = await api.ok("POST", path(recovery, "method"), {"method": "email"})
    mail = await api.last_email_code(teacher["email"])
    recovery = await api.ok("POST", path(recovery, "method/verify"), {"code": mail})
    recovery = await api.ok("POST", path(recovery, "password"), {"password": NEW_PASSWORD})
    await api.refused(
        "POST",
        path(recovery, "password/confirm"),
        {"password": NEW_PASSWORD + "x", "logout_other_sessions": False},
        "password_mismatch",
        422,
    )
    assert (await api.ok("GET", path(recovery)))["state"] == "new_password"
    # The first proposal is forgotten: repeating it now is out of place.
    await api.refused(
        "POST",
        path(recovery, "password/confirm"),
        {"password": NEW_PASSWORD, "logout_other_sessions": False},
        "wrong_state",
        409,
    )
    recovery = await finish(api, recovery, logout=False)
    assert recovery["state"] == "done"
    assert await password_works(api, teacher, NEW_PASSWORD)


async def test_logout_elsewhere_ends_the_messenger_session(api: Api) -> None:
    # Popova is signed in to VK Messenger, so B skips her password ...
    teacher, recovery = await up_to_method(api, "profile_exists_authorised")
    recovery = await api.ok("POST", path(recovery, "method"), {"method": "email"})
    mail = await api.last_email_code(teacher["email"])
    recovery = await api.ok("POST", path(recovery, "method/verify"), {"code": mail})
    recovery = await finish(api, recovery, logout=True)
    assert recovery["logout_other_sessions"] is True
    # ... until she leaves every other device: now VK ID asks for the (new) password.
    flow = await api.start_flow(teacher["mesh_account_id"])
    flow = await api.step(flow["flow_id"], "phone", {"phone": teacher["phone"]})
    assert flow["state"] == "password"
    assert flow["vk_account"]["session_authorised"] is False


async def test_keeping_other_sessions_keeps_the_messenger_signed_in(api: Api) -> None:
    teacher, recovery = await up_to_method(api, "profile_exists_authorised")
    recovery = await api.ok("POST", path(recovery, "method"), {"method": "email"})
    mail = await api.last_email_code(teacher["email"])
    recovery = await api.ok("POST", path(recovery, "method/verify"), {"code": mail})
    await finish(api, recovery, logout=False)
    flow = await api.start_flow(teacher["mesh_account_id"])
    flow = await api.step(flow["flow_id"], "phone", {"phone": teacher["phone"]})
    assert flow["state"] == "code"


async def test_recovery_lifts_the_password_lock_from_a_flow(api: Api, backend) -> None:
    teacher = await api.teacher("forgot_password_email")
    flow = await api.start_flow(teacher["mesh_account_id"])
    flow = await api.step(flow["flow_id"], "phone", {"phone": teacher["phone"]})
    for _ in range(backend.settings.password_max_attempts):
        await api.call("POST", f"/v1/flows/{flow['flow_id']}/password", {"password": "x"})
    recovery = await api.ok(
        "POST",
        "/v1/recoveries",
        {"phone": teacher["phone"], "flow_id": flow["flow_id"]},
        status=201,
    )
    code = await api.last_code(teacher["phone"])
    recovery = await api.ok("POST", path(recovery, "code/verify"), {"code": code})
    recovery = await api.ok("POST", path(recovery, "confirm"), {"confirmed": True})
    recovery = await api.ok("POST", path(recovery, "method"), {"method": "email"})
    mail = await api.last_email_code(teacher["email"])
    recovery = await api.ok("POST", path(recovery, "method/verify"), {"code": mail})
    await finish(api, recovery, logout=False)
    # The flow the recovery came from is signed in by it; and the lock is gone for new ones.
    assert (await api.get_flow(flow["flow_id"]))["state"] == "code"
    api.clock.advance(56)  # the call it was sent has its cooldown
    assert await password_works(api, teacher, NEW_PASSWORD)


async def test_recovery_sms_resend_cooldown(api: Api) -> None:
    teacher, recovery = await start(api, "forgot_password_app")
    api.clock.advance(60)
    error = await api.refused("POST", path(recovery, "code"), {}, "resend_too_early", 429)
    assert error["retry_after"] == 15  # «Отправить SMS через 1:15»
    api.clock.advance(15)
    await api.ok("POST", path(recovery, "code"), {})
    assert [item["channel"] for item in await api.inbox(teacher["phone"])] == ["sms", "sms"]


async def test_recovery_refusals_at_the_start(api: Api) -> None:
    no_vkid = await api.teacher("no_vkid")
    await api.refused("POST", "/v1/recoveries", {"phone": no_vkid["phone"]}, "unknown_account", 404)
    await api.refused("POST", "/v1/recoveries", {"phone": "89161234501"}, "phone_invalid", 422)
    await api.refused(
        "POST",
        "/v1/recoveries",
        {"phone": no_vkid["phone"], "flow_id": "flow-nope"},
        "not_found",
        404,
    )


async def test_recovery_expires(api: Api, backend) -> None:
    _teacher, recovery = await start(api, "forgot_password_app")
    api.clock.advance(backend.settings.recovery_lifetime)
    await api.refused("GET", path(recovery), None, "flow_expired", 410)


async def test_a_recovery_from_the_password_window_signs_that_flow_in(api: Api) -> None:
    teacher = await api.teacher("forgot_password_email")
    flow = await api.start_flow(teacher["mesh_account_id"])
    flow = await api.step(flow["flow_id"], "phone", {"phone": teacher["phone"]})
    assert flow["state"] == "password"
    recovery = await api.ok(
        "POST",
        "/v1/recoveries",
        {"phone": teacher["phone"], "flow_id": flow["flow_id"]},
        status=201,
    )
    code = await api.last_code(teacher["phone"])
    recovery = await api.ok("POST", path(recovery, "code/verify"), {"code": code})
    recovery = await api.ok("POST", path(recovery, "confirm"), {"confirmed": True})
    recovery = await api.ok("POST", path(recovery, "method"), {"method": "email"})
    code = await api.last_email_code(teacher["email"])
    recovery = await api.ok("POST", path(recovery, "method/verify"), {"code": code})
    recovery = await finish(api, recovery, logout=False)
    assert recovery["state"] == "done"

    flow = await api.get_flow(flow["flow_id"])  # no third password: on to the code
    assert flow["state"] == "code" and flow["challenge"]["channel"] == "call"
    assert (await api.inbox(teacher["phone"]))[-1]["channel"] == "call"
    flow = await api.enter_code(flow, teacher["phone"])
    assert flow["state"] == "profile"
