"""Every refusal in the API's table reaches the bot as its own exception, with its fields."""

from __future__ import annotations

from datetime import date

import pytest

from services import linking_client as lc
from services.linking_client import LinkingClient, LinkingError
from tests.client.samples import PROFILE
from tests.client.stub_server import StartStub, error_answer, json_answer

# (code, HTTP status, exception class) — the table in docs/linking-api.md.
DOCUMENTED_ERRORS: list[tuple[str, int, type[LinkingError]]] = [
    ("bad_request", 400, lc.BadRequest),
    ("unauthorized", 401, lc.Unauthorized),
    ("not_found", 404, lc.NotFound),
    ("method_not_allowed", 405, lc.MethodNotAllowed),
    ("payload_too_large", 413, lc.PayloadTooLarge),
    ("token_invalid", 400, lc.TokenInvalid),
    ("token_expired", 410, lc.TokenExpired),
    ("token_used", 409, lc.TokenUsed),
    ("already_linked", 409, lc.AlreadyLinked),
    ("flow_expired", 410, lc.FlowExpired),
    ("wrong_state", 409, lc.WrongState),
    ("phone_invalid", 422, lc.PhoneInvalid),
    ("vpn_detected", 403, lc.VpnDetected),
    ("wrong_password", 422, lc.WrongPassword),
    ("password_locked", 423, lc.PasswordLocked),
    ("resend_too_early", 429, lc.ResendTooEarly),
    ("rate_limited", 429, lc.RateLimited),
    ("confirmation_locked", 423, lc.ConfirmationLocked),
    ("phone_mismatch", 422, lc.PhoneMismatch),
    ("code_invalid", 422, lc.CodeInvalid),
    ("code_expired", 410, lc.CodeExpired),
    ("code_burnt", 410, lc.CodeBurnt),
    ("no_active_code", 409, lc.NoActiveCode),
    ("channel_unavailable", 422, lc.ChannelUnavailable),
    ("unknown_account", 404, lc.UnknownAccount),
    ("invalid_personal_data", 422, lc.InvalidPersonalData),
    ("weak_password", 422, lc.WeakPassword),
    ("password_mismatch", 422, lc.PasswordMismatch),
]


@pytest.mark.parametrize(("code", "status", "error_class"), DOCUMENTED_ERRORS)
async def test_each_error_code_raises_its_own_exception(
    start_stub: StartStub, code: str, status: int, error_class: type[LinkingError]
) -> None:
    stub = await start_stub(error_answer(status, code))
    async with LinkingClient(stub.url, backoff=0) as client:
        with pytest.raises(error_class) as caught:
            await client.submit_phone("fl-1", "+79161234567")
    error = caught.value
    assert type(error) is error_class
    assert (error.code, error.status, error.detail) == (code, status, f"{code} happened")
    assert error.payload["code"] == code


def test_every_documented_code_and_unavailable_has_a_class() -> None:
    for code, _, error_class in DOCUMENTED_ERRORS:
        assert LinkingError.error_class(code) is error_class
    assert LinkingError.error_class("unavailable") is lc.BackendUnavailable
    assert LinkingError.error_class("no_such_code") is LinkingError


async def test_unknown_code_is_a_plain_linking_error(start_stub: StartStub) -> None:
    stub = await start_stub(error_answer(418, "teapot_mode", attempts_left=1))
    async with LinkingClient(stub.url, backoff=0) as client:
        with pytest.raises(LinkingError) as caught:
            await client.get_flow("fl-1")
    assert type(caught.value) is LinkingError
    assert (caught.value.code, caught.value.status, caught.value.attempts_left) == (
        "teapot_mode",
        418,
        1,
    )


async def test_wrong_code_tells_how_many_attempts_are_left(start_stub: StartStub) -> None:
    stub = await start_stub(error_answer(422, "code_invalid", attempts_left=2))
    async with LinkingClient(stub.url) as client:
        with pytest.raises(lc.CodeInvalid) as caught:
            await client.verify_code("fl-1", "0000")
    assert caught.value.attempts_left == 2
    assert caught.value.retry_after is None


async def test_resend_too_early_tells_when_to_come_back(start_stub: StartStub) -> None:
    stub = await start_stub(error_answer(429, "resend_too_early", retry_after=41))
    async with LinkingClient(stub.url) as client:
        with pytest.raises(lc.ResendTooEarly) as caught:
            await client.send_code("fl-1", "sms")
    assert caught.value.retry_after == 41


async def test_already_linked_carries_the_linked_profile(start_stub: StartStub) -> None:
    stub = await start_stub(error_answer(409, "already_linked", profile=PROFILE))
    async with LinkingClient(stub.url) as client:
        with pytest.raises(lc.AlreadyLinked) as caught:
            await client.start_flow("tok")
    profile = caught.value.profile
    assert profile is not None
    assert profile.profile_id == "sf-1"
    assert profile.birth_date.isoformat() == "1985-03-14"


async def test_extra_fields_of_specific_errors_are_lifted_out(start_stub: StartStub) -> None:
    fields = {"full_name": "not_cyrillic", "birth_date": "too_young"}
    stub = await start_stub(error_answer(422, "invalid_personal_data", fields=fields))
    async with LinkingClient(stub.url) as client:
        with pytest.raises(lc.InvalidPersonalData) as caught:
            await client.submit_personal_data(
                "fl-1", full_name="Ivanova", birth_date=date(2015, 1, 1), gender="female"
            )
    assert caught.value.fields == fields


@pytest.mark.parametrize(
    ("code", "extra", "attribute", "expected"),
    [
        ("weak_password", {"unmet": ["uppercase", "digit"]}, "unmet", ("uppercase", "digit")),
        ("wrong_state", {"state": "consent"}, "state", "consent"),
        ("bad_request", {"fields": {"phone": "missing"}}, "fields", {"phone": "missing"}),
        ("password_locked", {"retry_after": 900}, "retry_after", 900),
        ("wrong_password", {"attempts_left": 4}, "attempts_left", 4),
        ("rate_limited", {"retry_after": 3000}, "retry_after", 3000),
        (
            "rate_limited",
            {"limit": "destination_codes_per_hour"},
            "limit",
            "destination_codes_per_hour",
        ),
        ("confirmation_locked", {"retry_after": 86000}, "retry_after", 86000),
        (
            "phone_mismatch",
            {"mesh_phone_masked": "+7 *** ***-**-01"},
            "mesh_phone_masked",
            "+7 *** ***-**-01",
        ),
        ("token_used", {"flow_id": "flow-1"}, "flow_id", "flow-1"),
        ("token_used", {}, "flow_id", None),
        ("rate_limited", {"limit": 5}, "limit", None),
    ],
)
async def test_error_specific_attributes(
    start_stub: StartStub, code: str, extra: dict, attribute: str, expected: object
) -> None:
    stub = await start_stub(error_answer(422, code, **extra))
    async with LinkingClient(stub.url) as client:
        with pytest.raises(LinkingError) as caught:
            await client.propose_new_password("rc-1", "secret")
    assert getattr(caught.value, attribute) == expected


async def test_garbled_extras_never_crash_the_caller(start_stub: StartStub) -> None:
    garbled = {"code": "already_linked", "profile": {"profile_id": 5}, "attempts_left": "x"}
    stub = await start_stub(json_answer({"error": garbled}, 409))
    async with LinkingClient(stub.url) as client:
        with pytest.raises(lc.AlreadyLinked) as caught:
            await client.start_flow("tok")
    assert caught.value.profile is None
    assert caught.value.attempts_left is None
    assert caught.value.detail == ""
