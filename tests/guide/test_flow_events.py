"""The flow events feed (`GET /v1/flows/{id}/events`) and the e-journal's window access.

Teacher journeys through the real backend over HTTP: every step, code sent, refusal and the end
shows up in her feed, whether the bot or the e-journal's window made it; a stranger reads and
writes nothing there.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import date

import aiohttp
import pytest

from services.clock import FakeClock
from services.linking.flow_events import KEEP_PER_FLOW
from services.linking.in_process import RunningBackend, serve_backend
from services.linking_client import (
    CodeInvalid,
    DevAccount,
    Flow,
    LinkingClient,
    NotFound,
    ScenarioChanged,
    Unauthorized,
    VpnDetected,
    WrongPassword,
)

TEACHER = 4242


@pytest.fixture
async def backend_and_client() -> AsyncIterator[tuple[RunningBackend, LinkingClient]]:
    async with (
        serve_backend(demo=True, clock=FakeClock()) as backend,
        LinkingClient(backend.url, retries=0) as client,
    ):
        yield backend, client


async def _open(client: LinkingClient, case: str = "vkid_no_profile") -> tuple[DevAccount, Flow]:
    account = await client.dev_create_account(case)
    token = await client.dev_link_token(account.mesh_account_id)
    return account, await client.for_user(TEACHER).start_flow(token.token)


async def test_steps_codes_refusals_and_the_end_are_published(backend_and_client) -> None:
    _backend, client = backend_and_client
    account, flow = await _open(client)
    teacher = client.for_user(TEACHER)
    await teacher.submit_phone(flow.flow_id, account.phone)
    with pytest.raises(WrongPassword):
        await teacher.submit_password(flow.flow_id, "not-her-password")
    await teacher.submit_password(flow.flow_id, account.vk_password or "")
    with pytest.raises(CodeInvalid):
        await teacher.verify_code(flow.flow_id, "0000")
    code = (await client.dev_inbox(account.phone))[-1].code
    await teacher.verify_code(flow.flow_id, code)
    await teacher.submit_personal_data(
        flow.flow_id, full_name=account.full_name, birth_date=date(1985, 3, 14), gender="female"
    )
    await teacher.give_consent(flow.flow_id, link=True)

    page = await teacher.flow_events(flow.flow_id)
    seen = [(e.kind, e.state, e.code or e.channel) for e in page.events]
    assert seen == [
        ("step", "phone", None),
        ("step", "password", None),
        ("refusal", "password", "wrong_password"),
        ("step", "code", None),
        ("code_sent", "code", "call"),
        ("refusal", "code", "code_invalid"),
        ("step", "personal_data", None),
        ("step", "consent", None),
        ("step", "linked", None),
    ]
    assert page.state == "linked"
    assert page.events[2].attempts_left == 4
    assert page.events[4].resend_after == 56
    assert page.events[5].attempts_left == 4
    assert page.events[1].from_state == "phone" and page.events[1].scenario == "new_profile"
    assert {e.source for e in page.events} == {"bot"}
    assert page.next == page.events[-1].seq
    # Reading on from `next` gives nothing new; from the middle, the rest.
    assert (await teacher.flow_events(flow.flow_id, after=page.next)).events == ()
    rest = await teacher.flow_events(flow.flow_id, after=page.events[5].seq)
    assert [e.state for e in rest.events] == ["personal_data", "consent", "linked"]


async def test_reading_the_feed_changes_nothing(backend_and_client) -> None:
    _backend, client = backend_and_client
    _account, flow = await _open(client)
    teacher = client.for_user(TEACHER)
    await teacher.get_flow(flow.flow_id)
    await teacher.flow_events(flow.flow_id)
    assert [e.kind for e in (await teacher.flow_events(flow.flow_id)).events] == ["step"]


async def test_vpn_refusal_reaches_the_feed(backend_and_client) -> None:
    _backend, client = backend_and_client
    account, flow = await _open(client)
    await client.dev_set_vpn(enabled=True, mesh_account_id=account.mesh_account_id)
    teacher = client.for_user(TEACHER)
    with pytest.raises(VpnDetected):
        await teacher.submit_phone(flow.flow_id, account.phone)
    last = (await teacher.flow_events(flow.flow_id)).events[-1]
    assert (last.kind, last.code, last.state) == ("refusal", "vpn_detected", "phone")


async def test_long_poll_wakes_when_the_window_acts(backend_and_client) -> None:
    _backend, client = backend_and_client
    account, flow = await _open(client)
    teacher = client.for_user(TEACHER)
    after = (await teacher.flow_events(flow.flow_id)).next
    waiting = asyncio.create_task(teacher.flow_events(flow.flow_id, after=after, wait=20))
    await asyncio.sleep(0)
    window = client.for_journal(account.mesh_account_id)
    await window.submit_phone(flow.flow_id, account.phone)
    page = await asyncio.wait_for(waiting, 10)
    assert [(e.kind, e.state, e.source) for e in page.events] == [("step", "password", "journal")]


async def test_long_poll_answers_empty_when_nothing_happens(backend_and_client) -> None:
    _backend, client = backend_and_client
    _account, flow = await _open(client)
    teacher = client.for_user(TEACHER)
    after = (await teacher.flow_events(flow.flow_id)).next
    page = await teacher.flow_events(flow.flow_id, after=after, wait=1)
    assert page.events == () and page.next == after and page.state == "phone"


async def test_the_window_finds_and_drives_the_bots_flow_with_the_same_budgets(
    backend_and_client,
) -> None:
    _backend, client = backend_and_client
    account, flow = await _open(client)
    window = client.for_journal(account.mesh_account_id)
    assert (await window.mesh_account_flow(account.mesh_account_id)).flow_id == flow.flow_id
    await window.submit_phone(flow.flow_id, account.phone)
    # Wrong passwords from the window and from the bot count in one series (one end user).
    with pytest.raises(WrongPassword) as first:
        await window.submit_password(flow.flow_id, "wrong-1")
    with pytest.raises(WrongPassword) as second:
        await client.for_user(TEACHER).submit_password(flow.flow_id, "wrong-2")
    assert (first.value.attempts_left, second.value.attempts_left) == (4, 3)
    # The bot sees where the window is.
    assert (await client.for_user(TEACHER).get_flow(flow.flow_id)).state.value == "password"


async def test_a_stranger_reads_and_writes_nothing_in_her_feed(backend_and_client) -> None:
    _backend, client = backend_and_client
    account, flow = await _open(client)
    stranger = client.for_user(999)
    with pytest.raises(NotFound):
        await stranger.flow_events(flow.flow_id)
    with pytest.raises(NotFound):
        await stranger.submit_phone(flow.flow_id, account.phone)
    other, _ = await _open(client)
    with pytest.raises(NotFound):  # another MESH account's window
        await client.for_journal(other.mesh_account_id).flow_events(flow.flow_id)
    with pytest.raises(NotFound):
        await client.for_journal(other.mesh_account_id).mesh_account_flow(account.mesh_account_id)
    kinds = [e.kind for e in (await client.for_user(TEACHER).flow_events(flow.flow_id)).events]
    assert kinds == ["step"]


async def test_only_the_journal_key_may_name_a_mesh_account() -> None:
    keys = {"api_key": "b" * 40, "journal_api_key": "j" * 40}
    async with serve_backend(demo=True, clock=FakeClock(), settings_overrides=keys) as backend:
        async with LinkingClient(backend.url, api_key="b" * 40, retries=0) as bot:
            account = await bot.dev_create_account("vkid_no_profile")
            token = await bot.dev_link_token(account.mesh_account_id)
            flow = await bot.for_user(TEACHER).start_flow(token.token)
            with pytest.raises(Unauthorized):  # the bot's key cannot pose as the e-journal
                await bot.for_journal(account.mesh_account_id).get_flow(flow.flow_id)
        async with LinkingClient(backend.url, api_key="j" * 40, retries=0) as journal:
            window = journal.for_journal(account.mesh_account_id)
            moved = await window.submit_phone(flow.flow_id, account.phone)
            assert moved.state.value == "password"


async def test_bad_after_and_wait_are_bad_requests(backend_and_client) -> None:
    backend, client = backend_and_client
    _account, flow = await _open(client)
    async with aiohttp.ClientSession() as http:
        for query in ("after=-1", "after=x", "wait=26", "wait=1.5"):
            async with http.get(
                f"{backend.url}/v1/flows/{flow.flow_id}/events?{query}",
                headers={"X-End-User-Id": str(TEACHER)},
            ) as response:
                assert response.status == 400, query
                assert (await response.json())["error"]["code"] == "bad_request"


async def test_the_feed_keeps_the_newest_events_only(backend_and_client) -> None:
    _backend, client = backend_and_client
    account, flow = await _open(client)
    teacher = client.for_user(TEACHER)
    await teacher.submit_phone(flow.flow_id, account.phone)
    # Switching accounts back and forth: two step events each time, no code sent.
    for _ in range(KEEP_PER_FLOW // 2 + 5):
        await teacher.switch_account(flow.flow_id)
        await teacher.submit_phone(flow.flow_id, account.phone)
    seqs: list[int] = []
    after = 0
    while True:
        page = await teacher.flow_events(flow.flow_id, after=after)
        if not page.events:
            break
        seqs += [e.seq for e in page.events]
        after = page.next
    assert len(seqs) == KEEP_PER_FLOW
    assert seqs == sorted(seqs)
    assert page.state == "password"


async def test_only_the_accounts_window_reports_screens_and_a_repeat_is_one_event(
    backend_and_client,
) -> None:
    _backend, client = backend_and_client
    account, flow = await _open(client)
    with pytest.raises(NotFound):  # the bot (an end user) has no window
        await client.for_user(TEACHER).report_screen(flow.flow_id, "vkid_phone")
    other, _ = await _open(client)
    with pytest.raises(NotFound):  # another account's window
        await client.for_journal(other.mesh_account_id).report_screen(flow.flow_id, "vkid_phone")
    window = client.for_journal(account.mesh_account_id)
    await window.report_screen(flow.flow_id, "vkid_phone")
    await window.report_screen(flow.flow_id, "vkid_phone")  # a re-render says it again
    events = (await client.for_user(TEACHER).flow_events(flow.flow_id)).events
    assert [(e.kind, e.screen, e.source) for e in events] == [
        ("step", None, "bot"),
        ("screen", "vkid_phone", "journal"),
    ]


async def test_a_restart_ends_the_old_feed_and_opens_a_new_one(backend_and_client) -> None:
    _backend, client = backend_and_client
    account, flow = await _open(client)
    teacher = client.for_user(TEACHER)
    await teacher.submit_phone(flow.flow_id, account.phone)
    fresh = await teacher.restart_flow(flow.flow_id)  # «Начать заново»

    old = [(e.kind, e.state) for e in (await teacher.flow_events(flow.flow_id)).events]
    assert old[-1] == ("step", "cancelled")
    new = [(e.kind, e.state) for e in (await teacher.flow_events(fresh.flow_id)).events]
    assert new == [("step", "phone")]


async def test_a_finished_recovery_publishes_that_the_flow_went_on_to_the_code(
    backend_and_client,
) -> None:
    _backend, client = backend_and_client
    account, flow = await _open(client, "forgot_password_email")
    teacher = client.for_user(TEACHER)
    await teacher.submit_phone(flow.flow_id, account.phone)
    recovery = await teacher.start_recovery(account.phone, flow_id=flow.flow_id)
    sms = (await client.dev_inbox(account.phone))[-1].code
    recovery = await teacher.verify_recovery_code(recovery.recovery_id, sms)
    recovery = await teacher.confirm_recovery_account(recovery.recovery_id, confirmed=True)
    recovery = await teacher.choose_recovery_method(recovery.recovery_id, "email")
    mail = (await client.dev_mailbox(account.email or ""))[-1].code
    recovery = await teacher.verify_method_code(recovery.recovery_id, mail)
    await teacher.propose_new_password(recovery.recovery_id, "Novyi#Parol2026")
    await teacher.confirm_new_password(
        recovery.recovery_id, "Novyi#Parol2026", logout_other_sessions=False
    )

    events = (await teacher.flow_events(flow.flow_id)).events
    assert [(e.kind, e.state) for e in events[-2:]] == [("step", "code"), ("code_sent", "code")]


async def test_a_profile_made_meanwhile_publishes_the_move_to_b_then_the_refusal(
    backend_and_client,
) -> None:
    backend, client = backend_and_client
    assert isinstance(backend.clock, FakeClock)
    account, flow = await _open(client)
    teacher = client.for_user(TEACHER)
    await teacher.submit_phone(flow.flow_id, account.phone)
    await teacher.submit_password(flow.flow_id, account.vk_password or "")
    await teacher.verify_code(flow.flow_id, (await client.dev_inbox(account.phone))[-1].code)
    details = {"full_name": account.full_name, "birth_date": date(1985, 3, 14)}
    await teacher.submit_personal_data(flow.flow_id, **details, gender="female")
    # Her second e-journal account, same number, links first (another Telegram account).
    other_mesh = await client.dev_create_account("no_vkid")
    await client.confirm_mesh_phone(other_mesh.mesh_account_id, account.phone)
    other = client.for_user(TEACHER + 1)
    token = await client.dev_link_token(other_mesh.mesh_account_id)
    second = await other.start_flow(token.token)
    await other.submit_phone(second.flow_id, account.phone)
    await other.submit_password(second.flow_id, account.vk_password or "")
    backend.clock.advance(56)  # her call's cooldown
    await other.send_code(second.flow_id, "call")
    await other.verify_code(second.flow_id, (await client.dev_inbox(account.phone))[-1].code)
    await other.submit_personal_data(second.flow_id, **details, gender="female")
    await other.give_consent(second.flow_id, link=True)

    with pytest.raises(ScenarioChanged):
        await teacher.give_consent(flow.flow_id, link=True)
    page = await teacher.flow_events(flow.flow_id)
    assert [(e.kind, e.state, e.code) for e in page.events[-2:]] == [
        ("step", "profile", None),
        ("refusal", "profile", "scenario_changed"),
    ]
    assert page.state == "profile"
