"""Confirmation codes: call-reset and SMS, attempts, burn, expiry, cooldowns, concurrency."""

from __future__ import annotations

import asyncio
import re

from services.linking import codes
from tests.linking.http_api import Api


def wrong(code: str) -> str:
    return "".join(str((int(ch) + 1) % 10) for ch in code)


async def test_call_code_is_the_last_four_digits_of_the_calling_number(api: Api) -> None:
    teacher, flow = await api.flow_at_code("vkid_no_profile")
    [call] = await api.inbox(teacher["phone"])
    assert call["channel"] == "call" and re.fullmatch(r"\d{4}", call["code"])
    number = re.search(r"\+7 \d{3} \d{3}-\d{2}-\d{2}", call["text"]).group(0)
    assert number.replace("-", "").endswith(call["code"])
    assert "последние 4 цифры" in call["text"]
    assert flow["challenge"]["sent_to"] == "+7 *** ***-**-02"
    assert flow["challenge"]["resend_after"] == 56


async def test_wrong_codes_count_down_then_the_code_is_burnt(api: Api, backend) -> None:
    teacher, flow = await api.flow_at_code("vkid_no_profile")
    code = await api.last_code(teacher["phone"])
    verify = f"/v1/flows/{flow['flow_id']}/code/verify"
    limit = backend.settings.code_max_attempts
    for left in range(limit - 1, 0, -1):
        error = await api.refused("POST", verify, {"code": wrong(code)}, "code_invalid", 422)
        assert error["attempts_left"] == left
        assert (await api.get_flow(flow["flow_id"]))["challenge"]["attempts_left"] == left
    await api.refused("POST", verify, {"code": wrong(code)}, "code_burnt", 410)
    # Burnt means burnt: even the right code is refused now.
    await api.refused("POST", verify, {"code": code}, "code_burnt", 410)
    assert (await api.get_flow(flow["flow_id"]))["state"] == "code"

    # A new code after the cooldown works.
    api.clock.advance(56)
    await api.step(flow["flow_id"], "code", {"channel": "call"})
    flow = await api.enter_code(flow, teacher["phone"])
    assert flow["state"] == "personal_data"


async def test_expired_code_is_refused(api: Api, backend) -> None:
    teacher, flow = await api.flow_at_code("vkid_no_profile")
    code = await api.last_code(teacher["phone"])
    api.clock.advance(backend.settings.code_lifetime)
    await api.refused(
        "POST", f"/v1/flows/{flow['flow_id']}/code/verify", {"code": code}, "code_expired", 410
    )


async def test_resend_waits_for_the_cooldown(api: Api) -> None:
    teacher, flow = await api.flow_at_code("vkid_no_profile")
    send = f"/v1/flows/{flow['flow_id']}/code"
    api.clock.advance(20)
    error = await api.refused("POST", send, {"channel": "call"}, "resend_too_early", 429)
    assert error["retry_after"] == 36
    assert (await api.get_flow(flow["flow_id"]))["challenge"]["resend_after"] == 36
    assert len(await api.inbox(teacher["phone"])) == 1  # nothing was sent

    api.clock.advance(36)
    flow = await api.step(flow["flow_id"], "code", {"channel": "call"})
    assert flow["challenge"]["resend_after"] == 56
    assert len(await api.inbox(teacher["phone"])) == 2


async def test_old_code_dies_when_a_new_one_is_sent(api: Api, monkeypatch) -> None:
    # Two different codes for certain (random ones coincide once in 10,000 runs).
    issued = iter(["1234", "5678"])
    random_digits = codes.random_digits
    monkeypatch.setattr(
        codes, "random_digits", lambda n: next(issued) if n == 4 else random_digits(n)
    )
    teacher, flow = await api.flow_at_code("vkid_no_profile")
    first = await api.last_code(teacher["phone"])
    api.clock.advance(56)
    await api.step(flow["flow_id"], "code", {"channel": "call"})
    second = await api.last_code(teacher["phone"])
    assert (first, second) == ("1234", "5678")
    await api.refused(
        "POST", f"/v1/flows/{flow['flow_id']}/code/verify", {"code": first}, "code_invalid", 422
    )
    flow = await api.step(flow["flow_id"], "code/verify", {"code": second})
    assert flow["state"] == "personal_data"


async def test_switch_to_sms_sends_six_digits_with_its_own_cooldown(api: Api) -> None:
    teacher, flow = await api.flow_at_code("vkid_no_profile")
    api.clock.advance(56)
    flow = await api.step(flow["flow_id"], "code", {"channel": "sms"})
    challenge = flow["challenge"]
    assert (challenge["channel"], challenge["code_length"]) == ("sms", 6)
    assert challenge["resend_after"] == 75
    sms = (await api.inbox(teacher["phone"]))[-1]
    assert sms["channel"] == "sms" and re.fullmatch(r"\d{6}", sms["code"])
    assert sms["text"] == f"Код подтверждения VK ID: {sms['code']}. Никому его не сообщайте."
    # Back to a call: the SMS cooldown (75 s) applies to any new code.
    api.clock.advance(56)
    error = await api.refused(
        "POST", f"/v1/flows/{flow['flow_id']}/code", {"channel": "call"}, "resend_too_early", 429
    )
    assert error["retry_after"] == 19
    flow = await api.enter_code(flow, teacher["phone"])
    assert flow["state"] == "personal_data"


async def test_change_number_burns_the_code_and_calls_the_new_number(api: Api, monkeypatch) -> None:
    issued = iter(["1234", "5678"])  # two different codes for certain
    random_digits = codes.random_digits
    monkeypatch.setattr(
        codes, "random_digits", lambda n: next(issued) if n == 4 else random_digits(n)
    )
    teacher, flow = await api.flow_at_code("profile_exists_authorised")
    old_code = await api.last_code(teacher["phone"])
    other = await api.teacher("no_vkid")
    # A number the e-journal does not know is refused, and nothing changes ...
    path = f"/v1/flows/{flow['flow_id']}/phone"
    error = await api.refused("POST", path, {"phone": other["phone"]}, "phone_mismatch", 422)
    assert error["mesh_phone_masked"] == "+7 *** ***-**-04"
    assert (await api.get_flow(flow["flow_id"]))["challenge"] == flow["challenge"]
    # ... until the teacher confirms it in the e-journal.
    await api.confirm_phone(teacher["mesh_account_id"], other["phone"])
    flow = await api.step(flow["flow_id"], "phone", {"phone": other["phone"]})
    assert (flow["state"], flow["scenario"]) == ("code", "registration")
    assert flow["challenge"]["sent_to"] == "+7 *** ***-**-01"
    new_code = await api.last_code(other["phone"])
    assert (old_code, new_code) == ("1234", "5678")
    await api.refused(
        "POST", f"/v1/flows/{flow['flow_id']}/code/verify", {"code": old_code}, "code_invalid", 422
    )
    flow = await api.step(flow["flow_id"], "code/verify", {"code": new_code})
    assert flow["state"] == "personal_data"


async def test_same_number_again_is_a_resend_and_respects_the_cooldown(api: Api) -> None:
    teacher, flow = await api.flow_at_code("profile_exists_authorised")
    path = f"/v1/flows/{flow['flow_id']}/phone"
    error = await api.refused("POST", path, {"phone": teacher["phone"]}, "resend_too_early", 429)
    assert error["retry_after"] == 56


async def test_concurrent_verifications_of_one_code_only_one_succeeds(api: Api) -> None:
    teacher, flow = await api.flow_at_code("vkid_no_profile")
    code = await api.last_code(teacher["phone"])
    path = f"/v1/flows/{flow['flow_id']}/code/verify"
    replies = await asyncio.gather(*(api.call("POST", path, {"code": code}) for _ in range(8)))
    winners = [reply for reply in replies if reply.status == 200]
    assert len(winners) == 1, [reply.body for reply in replies]
    losers = {(reply.status, reply.error["code"]) for reply in replies if reply.status != 200}
    assert losers <= {(409, "no_active_code"), (409, "wrong_state")}
    assert (await api.get_flow(flow["flow_id"]))["state"] == "personal_data"


async def test_verify_without_a_code_in_flight_is_refused(api: Api) -> None:
    teacher = await api.teacher("vkid_no_profile")
    flow = await api.start_flow(teacher["mesh_account_id"])
    await api.refused(
        "POST", f"/v1/flows/{flow['flow_id']}/code/verify", {"code": "1234"}, "wrong_state", 409
    )
