"""Guide mode end to end in the sandbox without a browser: the page's VK ID window API (what
vkid-window.js calls) drives the flow the bot opened while the real bot, polling the sandbox and
long-polling the backend's events, guides her in the chat — and she can switch back midway."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from tests.sandbox.live import Live, live_sandbox


@pytest.fixture
async def live() -> AsyncIterator[Live]:
    async with live_sandbox() as running:
        yield running


class PageWindow:
    """The e-journal's VK ID window as the page drives it."""

    def __init__(self, live: Live, mesh_account_id: str) -> None:
        self.live, self.path = live, f"/api/journal/{mesh_account_id}/window"
        self.flow: dict[str, Any] = {}

    async def act(self, action: str, **fields: Any) -> dict[str, Any]:
        answer = await self.live.post(
            self.path, {"action": action, "flow_id": self.flow.get("flow_id"), **fields}
        )
        if answer["flow"]:
            self.flow = answer["flow"]
        return answer


async def test_the_window_drives_the_bots_flow_and_the_bot_follows(live: Live) -> None:
    her = live.teacher("vkid_no_profile")
    teacher = her.teacher
    window = PageWindow(live, teacher.mesh_account_id)
    assert (await window.act("peek"))["flow"] is None  # no linking yet: the page opens the bot

    await her.opens_from_journal()
    await her.press("Я сделаю сама в электронном журнале")
    await her.sees("«Мессенджер не подключен»")

    opened = await window.act("peek")
    assert opened["flow"]["state"] == "phone"  # the bot's flow, found by the e-journal
    await window.act("screen", screen="vkid_phone")
    await her.sees("«Вход в VK ID»")

    await live.post(f"/api/phone/{teacher.user_id}/vpn", {"enabled": True})
    refused = await window.act("phone", phone=teacher.phone)
    assert refused["error"]["code"] == "vpn_detected"
    await her.sees("включён VPN")
    await live.post(f"/api/phone/{teacher.user_id}/vpn", {"enabled": False})

    assert (await window.act("phone", phone=teacher.phone))["flow"]["state"] == "password"
    await her.sees("«Введите пароль»")
    await window.act("password", password=teacher.vk_password)
    await her.sees("«Подтвердите вход»")

    wrong = await window.act("verify_code", code="0000")
    assert wrong["error"]["code"] == "code_invalid" and wrong["error"]["attempts_left"] == 4
    await her.sees("Код не подошёл")

    # Midway she lets the bot do the rest in the chat: nothing done in the window is lost.
    await her.press("Сделай за меня в чате")
    await her.sees("с того шага, до которого вы дошли в окне")
    await her.says(await her.reads_code("call"))
    await her.sees("ФИО")
    await her.says(teacher.full_name)
    await her.says("14.03.1985")
    await her.press("Мужской")
    await her.press("Всё верно")
    await her.press("Привязать")
    await her.sees("успешно привязан")
    assert (await window.act("read"))["flow"]["state"] == "linked"  # the window sees it too


async def test_without_a_bot_the_window_opens_its_own_flow(live: Live) -> None:
    her = live.teacher("vkid_no_profile")
    window = PageWindow(live, her.teacher.mesh_account_id)
    opened = await window.act("open")
    assert opened["flow"]["state"] == "phone" and opened["error"] is None
    bad = await window.act("phone", phone="12345")
    assert bad["error"]["code"] == "phone_invalid" and bad["flow"]["state"] == "phone"


async def test_password_recovery_in_the_window_is_guided_screen_by_screen(live: Live) -> None:
    her = live.teacher("forgot_password_email")
    teacher = her.teacher
    window = PageWindow(live, teacher.mesh_account_id)
    await her.opens_from_journal()
    await her.press("Я сделаю сама в электронном журнале")
    await window.act("peek")
    await window.act("phone", phone=teacher.phone)
    await her.sees("«Введите пароль»")

    # «Забыли или не установили пароль?» in the window: the recovery screens of the guide.
    started = await window.act("recovery_start", phone=teacher.phone)
    recovery_id = started["recovery"]["recovery_id"]
    assert started["recovery"]["state"] == "code"
    await her.sees("«Введите код»")

    async def step(action: str, **fields: Any) -> dict[str, Any]:
        answer = await window.act(action, recovery_id=recovery_id, **fields)
        assert answer["error"] is None, answer["error"]
        return answer["recovery"]

    await step("recovery_code", code=await her.reads_code("sms"))
    await her.sees("«Проверка аккаунта»")
    await step("recovery_confirm", confirmed=True)
    await her.sees("подтвердить, что аккаунт ваш")
    await step("recovery_method", method="email")
    await her.sees("из письма")
    await step("recovery_method_code", code=await her.reads_code("email"))
    await her.sees("«Придумайте новый пароль»")
    weak = await window.act("recovery_password", recovery_id=recovery_id, password="short")
    assert weak["error"]["code"] == "weak_password"
    await step("recovery_password", password="Novyi#Parol2026")
    done = await step("recovery_repeat", password="Novyi#Parol2026", logout=True)
    assert done["state"] == "done"
    # Signed in by the recovery, as VK ID does: the window and the bot go on to the code.
    await her.sees("Пароль изменён, и VK ID уже впустил вас")
    await her.sees("«Подтвердите вход»")
