"""Whole teacher journeys driven through the client against the real simulated backend.

Each test starts its own demo backend on loopback with a FakeClock, so cooldowns and expiries
are reached by moving the clock, never by waiting.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import date
from typing import Any

import pytest

from services.clock import FakeClock
from services.linking.in_process import serve_backend
from services.linking_client import (
    AlreadyLinked,
    CodeBurnt,
    CodeExpired,
    CodeInvalid,
    DevAccount,
    Flow,
    FlowExpired,
    FlowState,
    InvalidPersonalData,
    LinkingClient,
    NotFound,
    PasswordMismatch,
    PhoneInvalid,
    PhoneMismatch,
    RecoveryState,
    ResendTooEarly,
    Scenario,
    TokenInvalid,
    TokenUsed,
    Unauthorized,
    VpnDetected,
    WeakPassword,
    WrongPassword,
    WrongState,
)

BIRTH_DATE = date(1985, 3, 14)
NEW_PASSWORD = "Nov-Parol-2026!"


@dataclass
class Sandbox:
    """The client, the backend's clock and the demo accounts by case."""

    client: LinkingClient
    clock: Any
    accounts: dict[str, DevAccount]

    async def open_flow(self, case: str) -> tuple[DevAccount, Flow]:
        account = self.accounts[case]
        token = await self.client.dev_link_token(account.mesh_account_id)
        return account, await self.client.start_flow(token.token)

    async def last_code(self, phone: str) -> str:
        inbox = await self.client.dev_inbox(phone)
        assert inbox, "nothing was delivered to the phone"
        return inbox[-1].code

    async def last_email_code(self, email: str) -> str:
        mailbox = await self.client.dev_mailbox(email)
        assert mailbox, "nothing was delivered to the mailbox"
        return mailbox[-1].code

    async def confirm_phone(self, flow: Flow, phone: str) -> Flow:
        assert flow.state is FlowState.CODE and flow.challenge is not None
        code = await self.last_code(phone)
        assert len(code) == flow.challenge.code_length
        return await self.client.verify_code(flow.flow_id, code)

    async def finish(self, flow: Flow, full_name: str) -> Flow:
        """Personal data → consent → «Привязать»."""
        assert flow.state is FlowState.PERSONAL_DATA
        flow = await self.client.submit_personal_data(
            flow.flow_id, full_name=full_name, birth_date=BIRTH_DATE, gender="female"
        )
        assert flow.state is FlowState.CONSENT
        return await self.client.give_consent(flow.flow_id, link=True)


@pytest.fixture
async def sandbox() -> AsyncIterator[Sandbox]:
    clock = FakeClock()
    async with (
        serve_backend(demo=True, clock=clock) as backend,
        LinkingClient(backend.url, backoff=0) as client,
    ):
        accounts = {account.case: account for account in await client.dev_accounts()}
        # The bot's view for one teacher (Telegram user 4242): flow calls carry her id.
        yield Sandbox(client=client.for_user(4242), clock=backend.clock, accounts=accounts)


async def test_demo_has_an_account_for_every_case(sandbox: Sandbox) -> None:
    assert set(sandbox.accounts) >= {
        "no_vkid",
        "vkid_no_profile",
        "profile_exists",
        "profile_exists_authorised",
        "already_linked",
        "forgot_password_email",
        "forgot_password_app",
        "vpn",
    }
    assert await sandbox.client.health()


async def test_teacher_without_vk_id_registers_and_links(sandbox: Sandbox) -> None:
    account, flow = await sandbox.open_flow("no_vkid")
    assert flow.state is FlowState.PHONE
    assert flow.mesh_account.id == account.mesh_account_id

    flow = await sandbox.client.submit_phone(flow.flow_id, account.phone)
    assert flow.scenario is Scenario.REGISTRATION
    assert flow.challenge is not None and flow.challenge.channel == "call"

    flow = await sandbox.confirm_phone(flow, account.phone)
    linked = await sandbox.finish(flow, account.full_name)

    assert linked.state is FlowState.LINKED and linked.is_finished
    assert linked.linked_profile is not None
    assert linked.linked_profile.full_name == account.full_name
    assert linked.linked_profile.birth_date == BIRTH_DATE


async def test_scenario_a_creates_a_profile_after_password_and_code(sandbox: Sandbox) -> None:
    account, flow = await sandbox.open_flow("vkid_no_profile")
    flow = await sandbox.client.submit_phone(flow.flow_id, account.phone)
    assert (flow.scenario, flow.state) == (Scenario.NEW_PROFILE, FlowState.PASSWORD)
    assert flow.vk_account is not None and flow.vk_account.masked_name

    assert account.vk_password is not None
    flow = await sandbox.client.submit_password(flow.flow_id, account.vk_password)
    flow = await sandbox.confirm_phone(flow, account.phone)
    linked = await sandbox.finish(flow, account.full_name)

    assert linked.state is FlowState.LINKED
    assert linked.linked_profile is not None
    assert linked.linked_profile.full_name == account.full_name


async def test_scenario_b_links_the_chosen_existing_profile(sandbox: Sandbox) -> None:
    account, flow = await sandbox.open_flow("profile_exists")
    flow = await sandbox.client.submit_phone(flow.flow_id, account.phone)
    assert (flow.scenario, flow.state) == (Scenario.EXISTING_PROFILE, FlowState.PASSWORD)
    assert flow.vk_account is not None and not flow.vk_account.session_authorised

    assert account.vk_password is not None
    flow = await sandbox.client.submit_password(flow.flow_id, account.vk_password)
    flow = await sandbox.confirm_phone(flow, account.phone)
    assert flow.state is FlowState.PROFILE and flow.profiles
    chosen = flow.profiles[0]

    flow = await sandbox.client.choose_profile(flow.flow_id, chosen.profile_id)
    assert flow.state is FlowState.PERSONAL_DATA
    prefilled = flow.personal_data
    assert prefilled is not None
    assert (prefilled.full_name, prefilled.birth_date) == (chosen.full_name, chosen.birth_date)

    flow = await sandbox.client.submit_personal_data(
        flow.flow_id,
        full_name=prefilled.full_name,
        birth_date=prefilled.birth_date,
        gender=prefilled.gender,
    )
    linked = await sandbox.client.give_consent(flow.flow_id, link=True)
    assert linked.state is FlowState.LINKED
    assert linked.linked_profile is not None
    assert linked.linked_profile.profile_id == chosen.profile_id


async def test_scenario_b_with_an_authorised_session_skips_the_password(sandbox: Sandbox) -> None:
    account, flow = await sandbox.open_flow("profile_exists_authorised")
    flow = await sandbox.client.submit_phone(flow.flow_id, account.phone)
    assert (flow.scenario, flow.state) == (Scenario.EXISTING_PROFILE, FlowState.CODE)
    assert flow.vk_account is not None and flow.vk_account.session_authorised

    flow = await sandbox.confirm_phone(flow, account.phone)
    assert flow.state is FlowState.PROFILE
    flow = await sandbox.client.choose_profile(flow.flow_id, flow.profiles[0].profile_id)
    assert flow.personal_data is not None
    linked = await sandbox.finish(flow, flow.personal_data.full_name)
    assert linked.linked_profile is not None
    assert linked.linked_profile.profile_id == flow.profiles[0].profile_id


async def test_already_linked_account_is_refused_with_its_profile(sandbox: Sandbox) -> None:
    account = sandbox.accounts["already_linked"]
    with pytest.raises(AlreadyLinked) as caught:
        token = await sandbox.client.dev_link_token(account.mesh_account_id)
        await sandbox.client.start_flow(token.token)
    assert caught.value.profile is not None
    assert caught.value.profile.profile_id


async def test_a_linked_account_cannot_be_linked_twice(sandbox: Sandbox) -> None:
    account, flow = await sandbox.open_flow("profile_exists_authorised")
    flow = await sandbox.client.submit_phone(flow.flow_id, account.phone)
    flow = await sandbox.confirm_phone(flow, account.phone)
    flow = await sandbox.client.choose_profile(flow.flow_id, flow.profiles[0].profile_id)
    assert flow.personal_data is not None
    linked = await sandbox.finish(flow, flow.personal_data.full_name)

    with pytest.raises(AlreadyLinked) as caught:
        await sandbox.open_flow("profile_exists_authorised")
    assert caught.value.profile == linked.linked_profile


async def _recover_password(sandbox: Sandbox, account: DevAccount, flow: Flow, method: str) -> None:
    """Walk recovery C from the password step of `flow` up to `done`."""
    client = sandbox.client
    recovery = await client.start_recovery(account.phone, flow_id=flow.flow_id)
    assert recovery.state is RecoveryState.CODE
    recovery = await client.verify_recovery_code(
        recovery.recovery_id, await sandbox.last_code(account.phone)
    )
    assert recovery.state is RecoveryState.CONFIRM_ACCOUNT
    assert recovery.account is not None and recovery.account.masked_name
    recovery = await client.confirm_recovery_account(recovery.recovery_id, confirmed=True)
    assert recovery.state is RecoveryState.METHOD and method in recovery.methods

    recovery = await client.choose_recovery_method(recovery.recovery_id, method)  # type: ignore[arg-type]
    assert recovery.state is RecoveryState.METHOD_CODE
    if method == "email":
        assert account.email is not None and recovery.email_masked
        code = await sandbox.last_email_code(account.email)
    else:
        code = await client.dev_totp(account.phone)
    recovery = await client.verify_method_code(recovery.recovery_id, code)
    assert recovery.state is RecoveryState.NEW_PASSWORD

    with pytest.raises(WeakPassword) as weak:
        await client.propose_new_password(recovery.recovery_id, "short")
    assert {"min_length", "uppercase", "digit", "special"} <= set(weak.value.unmet)

    recovery = await client.propose_new_password(recovery.recovery_id, NEW_PASSWORD)
    assert recovery.state is RecoveryState.REPEAT_PASSWORD
    with pytest.raises(PasswordMismatch):
        await client.confirm_new_password(
            recovery.recovery_id, NEW_PASSWORD + "x", logout_other_sessions=True
        )
    recovery = await client.get_recovery(recovery.recovery_id)
    assert recovery.state is RecoveryState.NEW_PASSWORD  # a mismatch goes back one step

    await client.propose_new_password(recovery.recovery_id, NEW_PASSWORD)
    recovery = await client.confirm_new_password(
        recovery.recovery_id, NEW_PASSWORD, logout_other_sessions=True
    )
    assert recovery.state is RecoveryState.DONE and recovery.is_finished
    assert recovery.logout_other_sessions is True


@pytest.mark.parametrize(
    ("case", "method"), [("forgot_password_email", "email"), ("forgot_password_app", "totp")]
)
async def test_forgotten_password_is_recovered_then_the_flow_links(
    sandbox: Sandbox, case: str, method: str
) -> None:
    account, flow = await sandbox.open_flow(case)
    flow = await sandbox.client.submit_phone(flow.flow_id, account.phone)
    assert flow.state is FlowState.PASSWORD

    await _recover_password(sandbox, account, flow, method)

    # The flow the recovery was started from is signed in by it: on to the code, a call sent.
    flow = await sandbox.client.get_flow(flow.flow_id)
    assert flow.state is FlowState.CODE
    flow = await sandbox.confirm_phone(flow, account.phone)
    if flow.scenario is Scenario.EXISTING_PROFILE:
        assert flow.state is FlowState.PROFILE
        flow = await sandbox.client.choose_profile(flow.flow_id, flow.profiles[0].profile_id)
    linked = await sandbox.finish(flow, account.full_name)
    assert linked.state is FlowState.LINKED


async def test_vpn_blocks_the_phone_step_until_turned_off(sandbox: Sandbox) -> None:
    account, flow = await sandbox.open_flow("vpn")
    with pytest.raises(VpnDetected):
        await sandbox.client.submit_phone(flow.flow_id, account.phone)
    assert (await sandbox.client.get_flow(flow.flow_id)).state is FlowState.PHONE

    assert await sandbox.client.dev_set_vpn(phone=account.phone, enabled=False) is False
    flow = await sandbox.client.submit_phone(flow.flow_id, account.phone)
    assert flow.state in (FlowState.PASSWORD, FlowState.CODE)


async def test_trusted_friends_give_their_codes(sandbox: Sandbox) -> None:
    account = sandbox.accounts["forgot_password_friends"]
    client = sandbox.client
    recovery = await client.start_recovery(account.phone)
    recovery = await client.verify_recovery_code(
        recovery.recovery_id, await sandbox.last_code(account.phone)
    )
    recovery = await client.confirm_recovery_account(recovery.recovery_id, confirmed=True)
    assert "friends" in recovery.methods
    recovery = await client.choose_recovery_method(recovery.recovery_id, "friends")
    assert recovery.state is RecoveryState.FRIENDS and not recovery.is_finished
    assert [f.confirmed for f in recovery.friends] == [False, False, False]
    assert recovery.challenge is not None and recovery.challenge.channel == "friend"
    friends = await client.dev_friends(account.phone)
    assert [f.name for f in friends] == [f.name for f in recovery.friends]
    for friend in friends:
        recovery = await client.verify_friend_code(recovery.recovery_id, friend.inbox[-1].code)
    assert recovery.state is RecoveryState.NEW_PASSWORD
    assert all(f.confirmed for f in recovery.friends)


async def test_teacher_says_it_is_not_her_account(sandbox: Sandbox) -> None:
    account = sandbox.accounts["forgot_password_email"]
    recovery = await sandbox.client.start_recovery(account.phone)
    recovery = await sandbox.client.verify_recovery_code(
        recovery.recovery_id, await sandbox.last_code(account.phone)
    )
    recovery = await sandbox.client.confirm_recovery_account(recovery.recovery_id, confirmed=False)
    assert recovery.state is RecoveryState.CANCELLED


# --------------------------------------------------------------------------- refusals


async def _at_code_step(sandbox: Sandbox) -> tuple[DevAccount, Flow]:
    account, flow = await sandbox.open_flow("no_vkid")
    return account, await sandbox.client.submit_phone(flow.flow_id, account.phone)


def _wrong(code: str) -> str:
    return code[:-1] + str((int(code[-1]) + 1) % 10)


async def test_wrong_code_counts_down_attempts_then_burns(sandbox: Sandbox) -> None:
    account, flow = await _at_code_step(sandbox)
    assert flow.challenge is not None
    attempts = flow.challenge.attempts_left
    wrong = _wrong(await sandbox.last_code(account.phone))

    with pytest.raises(CodeInvalid) as caught:
        await sandbox.client.verify_code(flow.flow_id, wrong)
    assert caught.value.attempts_left == attempts - 1

    for _ in range(attempts - 2):
        with pytest.raises(CodeInvalid):
            await sandbox.client.verify_code(flow.flow_id, wrong)
    with pytest.raises((CodeInvalid, CodeBurnt)):
        await sandbox.client.verify_code(flow.flow_id, wrong)
    with pytest.raises(CodeBurnt):  # even the right code is refused once burnt
        await sandbox.client.verify_code(flow.flow_id, await sandbox.last_code(account.phone))


async def test_resend_too_early_says_when_then_works_after_the_cooldown(sandbox: Sandbox) -> None:
    account, flow = await _at_code_step(sandbox)
    assert flow.challenge is not None
    cooldown = flow.challenge.resend_after
    assert cooldown > 0

    with pytest.raises(ResendTooEarly) as caught:
        await sandbox.client.send_code(flow.flow_id, "sms")
    assert caught.value.retry_after == cooldown

    sandbox.clock.advance(cooldown)
    flow = await sandbox.client.send_code(flow.flow_id, "sms")
    assert flow.challenge is not None and flow.challenge.channel == "sms"
    inbox = await sandbox.client.dev_inbox(account.phone)
    assert [item.channel for item in inbox] == ["call", "sms"]
    flow = await sandbox.confirm_phone(flow, account.phone)
    assert flow.state is FlowState.PERSONAL_DATA


async def test_code_expires_when_the_clock_passes_its_expiry(sandbox: Sandbox) -> None:
    account, flow = await _at_code_step(sandbox)
    assert flow.challenge is not None
    code = await sandbox.last_code(account.phone)
    sandbox.clock.advance(flow.challenge.seconds_until_expiry(sandbox.clock.now()) + 1)

    with pytest.raises(CodeExpired):
        await sandbox.client.verify_code(flow.flow_id, code)


async def test_a_token_is_redeemed_only_once(sandbox: Sandbox) -> None:
    account = sandbox.accounts["no_vkid"]
    token = await sandbox.client.dev_link_token(account.mesh_account_id)
    await sandbox.client.start_flow(token.token)
    with pytest.raises(TokenUsed):
        await sandbox.client.start_flow(token.token)


async def test_forged_token_unknown_flow_and_bad_phone_are_refused(sandbox: Sandbox) -> None:
    with pytest.raises(TokenInvalid):
        await sandbox.client.start_flow("forged-token")
    with pytest.raises(NotFound):
        await sandbox.client.get_flow("flow-does-not-exist")
    _, flow = await sandbox.open_flow("no_vkid")
    with pytest.raises(PhoneInvalid):
        await sandbox.client.submit_phone(flow.flow_id, "+74951234567")


async def test_wrong_password_tells_how_many_attempts_are_left(sandbox: Sandbox) -> None:
    account, flow = await sandbox.open_flow("vkid_no_profile")
    flow = await sandbox.client.submit_phone(flow.flow_id, account.phone)
    with pytest.raises(WrongPassword) as caught:
        await sandbox.client.submit_password(flow.flow_id, "Not-The-Password-1")
    assert caught.value.attempts_left is not None and caught.value.attempts_left > 0


async def test_steps_out_of_order_are_refused_with_the_current_state(sandbox: Sandbox) -> None:
    _, flow = await sandbox.open_flow("no_vkid")
    with pytest.raises(WrongState) as caught:
        await sandbox.client.give_consent(flow.flow_id, link=True)
    assert caught.value.state == "phone"


async def test_rejected_personal_data_names_the_fields(sandbox: Sandbox) -> None:
    account, flow = await _at_code_step(sandbox)
    flow = await sandbox.confirm_phone(flow, account.phone)
    too_young = date(sandbox.clock.now().year - 10, 1, 1)
    with pytest.raises(InvalidPersonalData) as caught:
        await sandbox.client.submit_personal_data(
            flow.flow_id, full_name="Smirnova Olga", birth_date=too_young, gender="female"
        )
    assert caught.value.fields == {"full_name": "not_cyrillic", "birth_date": "too_young"}


async def test_teacher_changes_the_number_and_then_cancels(sandbox: Sandbox) -> None:
    account, flow = await _at_code_step(sandbox)
    other = sandbox.accounts["vkid_no_profile"]
    with pytest.raises(PhoneMismatch) as caught:  # «Изменить номер» to one the journal lacks
        await sandbox.client.submit_phone(flow.flow_id, other.phone)
    assert caught.value.mesh_phone_masked == "+7 *** ***-**-" + account.phone[-2:]
    # She confirms the other number in the e-journal; now the flow takes it.
    masked = await sandbox.client.confirm_mesh_phone(account.mesh_account_id, other.phone)
    assert masked == "+7 *** ***-**-" + other.phone[-2:]
    flow = await sandbox.client.submit_phone(flow.flow_id, other.phone)
    assert (flow.state, flow.scenario) == (FlowState.PASSWORD, Scenario.NEW_PROFILE)
    assert flow.phone_masked == masked

    await sandbox.client.confirm_mesh_phone(account.mesh_account_id, account.phone)
    # Back to the first number: its call's cooldown holds across the change.
    with pytest.raises(ResendTooEarly) as too_early:
        await sandbox.client.submit_phone(flow.flow_id, account.phone)
    sandbox.clock.advance(too_early.value.retry_after or 0)
    flow = await sandbox.client.submit_phone(flow.flow_id, account.phone)
    flow = await sandbox.confirm_phone(flow, account.phone)
    flow = await sandbox.client.submit_personal_data(
        flow.flow_id, full_name=account.full_name, birth_date=BIRTH_DATE, gender="female"
    )
    cancelled = await sandbox.client.give_consent(flow.flow_id, link=False)
    assert cancelled.state is FlowState.CANCELLED and cancelled.linked_profile is None


async def test_another_account_can_be_chosen_at_the_profile_step(sandbox: Sandbox) -> None:
    account, flow = await sandbox.open_flow("profile_exists_authorised")
    flow = await sandbox.client.submit_phone(flow.flow_id, account.phone)
    flow = await sandbox.confirm_phone(flow, account.phone)
    assert flow.state is FlowState.PROFILE
    flow = await sandbox.client.switch_account(flow.flow_id)  # «Войти в другой аккаунт»
    assert flow.state is FlowState.PHONE


async def test_challenge_countdown_matches_the_backend_clock(sandbox: Sandbox) -> None:
    _, flow = await _at_code_step(sandbox)
    assert flow.challenge is not None
    now = sandbox.clock.now()
    assert flow.challenge.seconds_until_resend(now) == flow.challenge.resend_after
    sandbox.clock.advance(20)
    assert flow.challenge.seconds_until_resend(sandbox.clock.now()) == (
        flow.challenge.resend_after - 20
    )


async def test_a_flow_left_too_long_expires(sandbox: Sandbox) -> None:
    account, flow = await sandbox.open_flow("no_vkid")
    sandbox.clock.advance((flow.expires_at - sandbox.clock.now()).total_seconds() + 1)
    with pytest.raises(FlowExpired):
        await sandbox.client.submit_phone(flow.flow_id, account.phone)


async def test_backend_with_an_api_key_refuses_a_client_without_it() -> None:
    async with serve_backend(demo=True, settings_overrides={"api_key": "k-123"}) as backend:
        async with LinkingClient(backend.url) as anonymous:
            with pytest.raises(Unauthorized):
                await anonymous.start_flow("whatever")
        async with LinkingClient(backend.url, api_key="k-123") as client:
            with pytest.raises(TokenInvalid):  # past the key check, refused on its merits
                await client.for_user(1).start_flow("whatever")
