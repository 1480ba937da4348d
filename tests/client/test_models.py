"""Answers become frozen, typed values; the helpers count down from the server's times."""

from __future__ import annotations

import dataclasses
from datetime import UTC, date, datetime, timedelta

import pytest

from services.linking_client import (
    Challenge,
    Flow,
    FlowState,
    Recovery,
    RecoveryState,
    Scenario,
    parse_datetime,
)
from tests.client.samples import CHALLENGE, FLOW, RECOVERY


def test_flow_is_parsed_into_typed_values() -> None:
    flow = Flow.from_json(FLOW)
    assert flow.state is FlowState.CODE
    assert flow.scenario is Scenario.EXISTING_PROFILE
    assert flow.mesh_account.full_name == "Иванова Мария Петровна"
    assert flow.vk_account is not None and flow.vk_account.session_authorised is False
    assert flow.challenge is not None and flow.challenge.channel == "call"
    assert flow.profiles[0].birth_date == date(1985, 3, 14)
    assert flow.expires_at == datetime(2026, 11, 26, 7, tzinfo=UTC)
    assert flow.expires_at.tzinfo is not None
    assert not flow.is_finished


def test_results_are_frozen() -> None:
    flow = Flow.from_json(FLOW)
    with pytest.raises(dataclasses.FrozenInstanceError):
        flow.state = FlowState.LINKED  # type: ignore[misc]


def test_a_fresh_flow_has_nothing_but_the_account() -> None:
    fresh = {
        **FLOW,
        "state": "phone",
        "scenario": None,
        "phone_masked": None,
        "vk_account": None,
        "challenge": None,
        "profiles": [],
    }
    flow = Flow.from_json(fresh)
    assert (flow.scenario, flow.vk_account, flow.challenge, flow.profiles) == (None, None, None, ())


def test_linked_flow_carries_the_profile_and_is_finished() -> None:
    linked = {**FLOW, "state": "linked", "linked_profile": FLOW["profiles"][0], "challenge": None}
    flow = Flow.from_json(linked)
    assert flow.is_finished
    assert flow.linked_profile is not None and flow.linked_profile.gender == "female"


def test_recovery_is_parsed() -> None:
    recovery = Recovery.from_json(RECOVERY)
    assert recovery.state is RecoveryState.METHOD
    assert recovery.methods == ("totp", "email", "friends")
    assert recovery.account is not None and recovery.account.masked_name == "Мария И."
    assert not recovery.is_finished


def test_unknown_recovery_method_is_a_broken_answer() -> None:
    with pytest.raises(ValueError):
        Recovery.from_json({**RECOVERY, "methods": ["carrier_pigeon"]})


def test_challenge_countdowns_use_the_servers_absolute_times() -> None:
    challenge = Challenge.from_json(CHALLENGE)
    sent_at = datetime(2026, 11, 25, 7, tzinfo=UTC)
    assert challenge.resend_after == 56 and not challenge.can_resend
    assert challenge.seconds_until_resend(sent_at) == 56
    assert challenge.seconds_until_resend(sent_at + timedelta(seconds=55, milliseconds=1)) == 1
    assert challenge.seconds_until_resend(sent_at + timedelta(minutes=5)) == 0
    assert challenge.seconds_until_expiry(sent_at) == 600
    assert not challenge.is_expired(sent_at + timedelta(seconds=599))
    assert challenge.is_expired(sent_at + timedelta(seconds=600))


def test_totp_challenge_has_no_resend_and_falls_back_on_resend_after() -> None:
    totp = Challenge.from_json(
        {
            **CHALLENGE,
            "channel": "totp",
            "sent_to": None,
            "resend_available_at": None,
            "resend_after": 0,
        }
    )
    assert totp.sent_to is None and totp.can_resend
    assert totp.seconds_until_resend(datetime(2030, 1, 1, tzinfo=UTC)) == 0


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-11-25T10:00:00Z", datetime(2026, 11, 25, 10, tzinfo=UTC)),
        ("2026-11-25T13:00:00+03:00", datetime(2026, 11, 25, 10, tzinfo=UTC)),
        ("2026-11-25T10:00:00", datetime(2026, 11, 25, 10, tzinfo=UTC)),
        ("2026-11-25T10:00:00.250Z", datetime(2026, 11, 25, 10, 0, 0, 250000, tzinfo=UTC)),
    ],
)
def test_times_become_aware_utc(text: str, expected: datetime) -> None:
    parsed = parse_datetime(text)
    assert parsed == expected
    assert parsed.utcoffset() == timedelta(0)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("flow_id", None),
        ("state", "teleported"),
        ("scenario", "vip"),
        ("expires_at", "tomorrow"),
        ("profiles", {"not": "a list"}),
        ("mesh_account", None),
        ("challenge", {**CHALLENGE, "attempts_left": True}),
        ("challenge", {**CHALLENGE, "channel": "pigeon"}),
        ("personal_data", {"full_name": "А Б", "birth_date": "14.03.1985", "gender": "female"}),
    ],
)
def test_broken_answers_are_refused(field: str, value: object) -> None:
    with pytest.raises(ValueError):
        Flow.from_json({**FLOW, field: value})
