"""A thief who has the teacher's SIM (he reads her SMS) still cannot guess her second factor.

He restarts recoveries and re-chooses the method to get fresh codes with fresh attempts; the
wrong codes count against the code-generator app (per VK ID), the e-mail address or the trusted
friend whose code is asked for, so at most `destination_wrong_codes_per_day` are checked in any
24 hours, and e-mails and friends' codes are capped as calls.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pyotp
import pytest

from services.linking.demo import demo_totp_secret
from services.linking.in_process import RunningBackend
from tests.linking.http_api import Api, Reply
from tests.security.attacks import DAY, HOUR, Ledger, describe, most_in_any_window, unused_code

ATTACK_HOURS = 50


def valid_totp_codes(phone: str, now: datetime) -> set[str]:
    """What the app shows around `now` (the backend accepts one step either side)."""
    totp = pyotp.TOTP(demo_totp_secret(phone))
    return {totp.at(now + timedelta(seconds=shift)) for shift in (-30, 0, 30)}


async def past_the_sms(api: Api, phone: str) -> str | Reply:
    """A recovery of the teacher's VK ID at the method step (he reads her SMS)."""
    reply = await api.call("POST", "/v1/recoveries", {"phone": phone})
    if reply.status != 201:
        return reply
    path = f"/v1/recoveries/{reply.body['recovery_id']}"
    await api.ok("POST", f"{path}/code/verify", {"code": await api.last_code(phone)})
    await api.ok("POST", f"{path}/confirm", {"confirmed": True})
    return path


async def known_codes(api: Api, teacher: dict[str, Any], method: str) -> set[str]:
    """Codes that would be right now: avoided, so every guess is surely wrong."""
    if method == "totp":
        return valid_totp_codes(teacher["phone"], api.clock.now())
    if method == "friends":
        return {item["code"] for item in await first_friends_inbox(api, teacher)}
    mails = await api.call("GET", "/dev/mailbox", params={"email": teacher["email"]})
    return {item["code"] for item in mails.body}


async def first_friends_inbox(api: Api, teacher: dict[str, Any]) -> list[dict[str, Any]]:
    """The codes of the friend asked first (the one every guess is checked against)."""
    friends = await api.call("GET", "/dev/friends", params={"phone": teacher["phone"]})
    return friends.body[0]["inbox"]


async def attack_the_method(
    api: Api, teacher: dict[str, Any], method: str, attempts: int
) -> tuple[Ledger, list[datetime]]:
    """For ATTACK_HOURS: recoveries, the method chosen again and again, wrong codes for each."""
    ledger, mails = Ledger(), []
    end = api.clock.now() + timedelta(hours=ATTACK_HOURS)
    path: str | None = None
    while api.clock.now() < end:
        refused = None
        if path is None:
            got = await past_the_sms(api, teacher["phone"])
            path, refused = (got, None) if isinstance(got, str) else (None, got)
        if path is not None:
            chosen = await api.call("POST", f"{path}/method", {"method": method})
            if chosen.status == 200:
                mails += [api.clock.now()] if method == "email" else []
                refused = await guess(api, path, teacher, method, attempts, ledger)
            else:
                refused = chosen
        if refused is None:
            continue  # the code is burnt: choose the method again for a fresh one
        ledger.refusals[refused.error["code"]] += 1
        if refused.error["code"] == "flow_expired":
            path = None
        else:
            api.clock.advance(max(1, refused.error.get("retry_after") or 0))
    return ledger, mails


async def guess(
    api: Api, path: str, teacher: dict[str, Any], method: str, attempts: int, ledger: Ledger
) -> Reply | None:
    """Wrong codes at the method's challenge until it burns (None) or a refusal stops him."""
    for _ in range(attempts):
        before = (await api.ok("GET", path))["challenge"]
        wrong = unused_code(before["code_length"], await known_codes(api, teacher, method))
        verify = "friends/verify" if method == "friends" else "method/verify"
        reply = await api.call("POST", f"{path}/{verify}", {"code": wrong})
        after = (await api.ok("GET", path))["challenge"]
        if after is not None and after["attempts_left"] < before["attempts_left"]:
            ledger.checked.append(api.clock.now())
        if reply.error["code"] == "code_burnt":
            return None
        if reply.error["code"] != "code_invalid":
            return reply
    return None


@pytest.mark.parametrize(
    ("case", "method"),
    [
        ("forgot_password_app", "totp"),
        ("forgot_password_email", "email"),
        ("forgot_password_friends", "friends"),
    ],
)
async def test_second_factor_guesses_are_bounded(
    api: Api, backend: RunningBackend, case: str, method: str
) -> None:
    settings = backend.settings
    teacher = await api.teacher(case)
    ledger, mails = await attack_the_method(api, teacher, method, settings.code_max_attempts)
    if method == "friends":  # what reached the friend he guesses at
        mails = [
            datetime.fromisoformat(item["at"].replace("Z", "+00:00"))
            for item in await first_friends_inbox(api, teacher)
        ]
    assert ledger.refusals["confirmation_locked"] >= 1, describe(ledger)
    assert most_in_any_window(ledger.checked, DAY) <= settings.destination_wrong_codes_per_day
    assert len(ledger.checked) >= 2 * settings.destination_wrong_codes_per_day, describe(ledger)
    assert most_in_any_window(mails, HOUR) <= settings.destination_codes_per_hour
    assert most_in_any_window(mails, DAY) <= settings.destination_codes_per_day
