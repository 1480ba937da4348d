"""Password-lock abuse: a stranger locks himself out, not the teacher; the VK ID only much later."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from datetime import datetime
from typing import Any

import pytest
from sqlalchemy import select

from services.clock import FakeClock
from services.linking.api import BACKEND
from services.linking.budgets import WRONG_PASSWORD
from services.linking.in_process import RunningBackend
from services.linking.models import BudgetEvent, VkAccount
from tests.linking.http_api import Api, api_session
from tests.security.attacks import DAY, FIRST_STRANGER_ID, most_in_any_window

TEACHER = "vkid_no_profile"  # her VK ID asks for the password
WRONG = "Wrong#Pass1"
NEW_PASSWORD = "Novyi#Parol2026"


@pytest.fixture
async def strangers(backend: RunningBackend, clock: FakeClock) -> AsyncIterator[AsyncExitStack]:
    async with AsyncExitStack() as stack:
        yield stack


async def stranger_at_password(
    stack: AsyncExitStack, url: str, clock: FakeClock, user_id: int, phone: str
) -> tuple[Api, str]:
    """A stranger's Telegram account, his own e-journal claiming the teacher's number (worst
    case), his flow at her password window."""
    api = Api(await stack.enter_async_context(api_session(url, str(user_id))), clock)
    mesh = (await api.teacher("no_vkid"))["mesh_account_id"]
    await api.confirm_phone(mesh, phone)
    flow = await api.start_flow(mesh)
    flow = await api.step(flow["flow_id"], "phone", {"phone": phone})
    assert flow["state"] == "password"
    return api, f"/v1/flows/{flow['flow_id']}/password"


async def her_password_window(api: Api, teacher: dict[str, Any]) -> str:
    flow = await api.start_flow(teacher["mesh_account_id"])
    flow = await api.step(flow["flow_id"], "phone", {"phone": teacher["phone"]})
    return f"/v1/flows/{flow['flow_id']}/password"


async def checked_wrong_passwords(backend: RunningBackend, phone: str) -> list[datetime]:
    """When the VK ID's wrong passwords were checked (the backend's own record of them)."""
    state = backend.app[BACKEND]
    async with state.db.transaction() as session:
        account = await session.scalar(select(VkAccount).where(VkAccount.phone == phone))
        assert account is not None
        subject = state.limits.budgets.subject("account", account.id)
        rows = await session.scalars(
            select(BudgetEvent.at).where(
                BudgetEvent.subject == subject, BudgetEvent.kind == WRONG_PASSWORD
            )
        )
        return list(rows)


async def test_a_stranger_locks_only_himself(
    api: Api, backend: RunningBackend, clock: FakeClock, strangers: AsyncExitStack
) -> None:
    settings = backend.settings
    teacher = await api.teacher(TEACHER)
    stranger, path = await stranger_at_password(
        strangers, backend.url, clock, FIRST_STRANGER_ID, teacher["phone"]
    )
    replies = [await stranger.call("POST", path, {"password": WRONG}) for _ in range(8)]
    codes = [reply.error["code"] for reply in replies]
    assert codes == ["wrong_password"] * 4 + ["password_locked"] * 4
    assert replies[-1].error["retry_after"] == settings.password_lock_seconds
    # Even the right password is refused to him now …
    await stranger.refused(
        "POST", path, {"password": teacher["vk_password"]}, "password_locked", 423
    )
    # … while the teacher signs in at once.
    flow = await api.ok(
        "POST", await her_password_window(api, teacher), {"password": teacher["vk_password"]}
    )
    assert flow["state"] == "code"
    # The bound for him: five guesses per lock period, however long he goes on.
    for _ in range(8):
        clock.advance(replies[-1].error["retry_after"])
        series = [await stranger.call("POST", path, {"password": WRONG}) for _ in range(6)]
        assert [r.error["code"] for r in series].count("password_locked") >= 2
        replies = series
    times = await checked_wrong_passwords(backend, teacher["phone"])
    assert (
        most_in_any_window(times, settings.password_lock_seconds) <= settings.password_max_attempts
    )


async def test_many_strangers_lock_the_vk_id_for_at_most_a_day_and_recovery_opens_it(
    api: Api, backend: RunningBackend, clock: FakeClock, strangers: AsyncExitStack
) -> None:
    settings = backend.settings
    teacher = await api.teacher(TEACHER)
    user_id = FIRST_STRANGER_ID
    while True:  # a new Telegram account each time his own lock stops him
        stranger, path = await stranger_at_password(
            strangers, backend.url, clock, user_id, teacher["phone"]
        )
        user_id += 1
        reply = await stranger.call("POST", path, {"password": WRONG})
        if reply.error["code"] == "password_locked":  # locked before his first try: the VK ID
            break
        while reply.error["code"] == "wrong_password":
            reply = await stranger.call("POST", path, {"password": WRONG})
    # The VK ID is locked for everyone after the account's daily limit, and no sooner.
    times = await checked_wrong_passwords(backend, teacher["phone"])
    assert len(times) == settings.account_wrong_passwords_per_day
    assert most_in_any_window(times, DAY) == settings.account_wrong_passwords_per_day
    her_path = await her_password_window(api, teacher)
    her_try = await api.call("POST", her_path, {"password": teacher["vk_password"]})
    assert her_try.error["code"] == "password_locked"
    assert 0 < her_try.error["retry_after"] <= DAY

    # Her way out at once: «Забыли пароль?» (her e-mail) sets a new password and lifts it.
    recovery = await api.ok("POST", "/v1/recoveries", {"phone": teacher["phone"]}, status=201)
    rec = f"/v1/recoveries/{recovery['recovery_id']}"
    await api.ok("POST", f"{rec}/code/verify", {"code": await api.last_code(teacher["phone"])})
    await api.ok("POST", f"{rec}/confirm", {"confirmed": True})
    await api.ok("POST", f"{rec}/method", {"method": "email"})
    await api.ok(
        "POST", f"{rec}/method/verify", {"code": await api.last_email_code(teacher["email"])}
    )
    await api.ok("POST", f"{rec}/password", {"password": NEW_PASSWORD})
    await api.ok(
        "POST", f"{rec}/password/confirm", {"password": NEW_PASSWORD, "logout_other_sessions": True}
    )
    her_path = await her_password_window(api, teacher)
    flow = await api.ok("POST", her_path, {"password": NEW_PASSWORD})
    assert flow["state"] == "code"
