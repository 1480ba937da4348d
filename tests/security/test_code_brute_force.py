"""Guessing a victim's confirmation code through every path: the bound holds per number.

Each attack runs for two days and a bit of clock time (two lock cycles). The stranger has his
own e-journal account, which (worst case) lets him confirm the victim's number as his own, and
switches Telegram accounts whenever a per-user quota stops him. Whatever he does, the backend
checks at most `destination_wrong_codes_per_day` of his guesses in any 24 hours, and sends at
most `destination_codes_per_hour` / `…_per_day` codes to the victim's phone.
"""

from __future__ import annotations

import pytest

from services.clock import FakeClock
from services.linking.in_process import RunningBackend
from services.linking.settings import LinkingSettings
from tests.linking.http_api import Api
from tests.security.attacks import (
    DAY,
    HOUR,
    VICTIM,
    CodePath,
    by_new_flow,
    by_new_recovery,
    by_restarting,
    by_switching_channels,
    by_switching_numbers,
    chance_of_a_right_guess,
    describe,
    most_in_any_window,
    run_attack,
    stranger_against,
)

ATTACK_HOURS = 50

PATHS: dict[str, list[CodePath]] = {
    "switching numbers": [by_switching_numbers],
    "new flows": [by_new_flow],
    "new recoveries": [by_new_recovery],
    "switching channels": [by_switching_channels],
    "restarting flows": [by_restarting],
    "every path in turn": [
        by_switching_numbers,
        by_new_recovery,
        by_new_flow,
        by_restarting,
        by_switching_channels,
    ],
}


def test_the_configured_limits_bound_a_guess_below_one_in_a_thousand_a_day() -> None:
    settings = LinkingSettings()
    # Every wrong code for a number counts, whatever flow, recovery or channel it came from,
    # and at most this many are checked in any 24 hours (the one that reaches it locks).
    guesses_per_day = settings.destination_wrong_codes_per_day
    # The call-reset code is the shortest a number gets: the strongest guess.
    shortest = min(settings.call_code_length, settings.sms_code_length)
    assert chance_of_a_right_guess(guesses_per_day, shortest) <= 1 / 1000
    assert chance_of_a_right_guess(guesses_per_day, shortest) == 10 / 10_000
    # A trusted friend's code (an SMS-length code, a destination of its own) is no weaker,
    # and recovering by friends needs every friend's code.
    assert chance_of_a_right_guess(guesses_per_day, settings.sms_code_length) <= 1 / 1000
    # An honest teacher keeps two full rounds of attempts before the lock.
    assert guesses_per_day >= 2 * settings.code_max_attempts


@pytest.mark.parametrize("path", list(PATHS), ids=list(PATHS))
async def test_code_brute_force_is_bounded_per_number(
    path: str, api: Api, backend: RunningBackend, clock: FakeClock
) -> None:
    settings = backend.settings
    victim = await api.teacher(VICTIM)
    async with stranger_against(backend.url, clock, victim["phone"]) as stranger:
        await run_attack(
            stranger, PATHS[path], hours=ATTACK_HOURS, attempts=settings.code_max_attempts
        )
        delivered = await stranger.delivered_to_victim()
    ledger = stranger.ledger

    # Refused: the number was locked after the limit, and told to wait before.
    assert ledger.refusals["confirmation_locked"] >= 1, describe(ledger)
    # The bound: guesses checked in any 24 hours, and the chance they give him.
    most_a_day = most_in_any_window(ledger.checked, DAY)
    assert most_a_day <= settings.destination_wrong_codes_per_day, describe(ledger)
    assert chance_of_a_right_guess(most_a_day, settings.call_code_length) <= 1 / 1000
    # Not a vacuous pass: he did reach the limit, in both days.
    assert len(ledger.checked) >= 2 * settings.destination_wrong_codes_per_day, describe(ledger)
    # The victim's phone was not flooded either.
    assert most_in_any_window(delivered, HOUR) <= settings.destination_codes_per_hour
    assert most_in_any_window(delivered, DAY) <= settings.destination_codes_per_day


async def test_the_locked_victim_is_told_when_and_to_ask_the_helpdesk(
    api: Api, backend: RunningBackend, clock: FakeClock
) -> None:
    settings = backend.settings
    victim = await api.teacher(VICTIM)
    async with stranger_against(backend.url, clock, victim["phone"]) as stranger:
        await run_attack(
            stranger,
            [by_new_flow],
            hours=1,
            attempts=settings.code_max_attempts,
            until="confirmation_locked",
        )
    # The teacher herself, in her own flow: the lock is about the number, and it ends.
    flow = await api.start_flow(victim["mesh_account_id"])
    error = await api.refused(
        "POST",
        f"/v1/flows/{flow['flow_id']}/phone",
        {"phone": victim["phone"]},
        "confirmation_locked",
        423,
    )
    assert 0 < error["retry_after"] <= DAY
    assert "helpdesk" in error["detail"]
    clock.advance(error["retry_after"])
    flow = await api.step(flow["flow_id"], "phone", {"phone": victim["phone"]})
    flow = await api.enter_code(flow, victim["phone"])
    assert flow["state"] == "profile"
