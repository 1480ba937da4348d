"""Long waits show «печатает…»; «не знаю, что делать» is understood on any step."""

from __future__ import annotations

import asyncio

import pytest
from aiogram.methods import SendChatAction

from services.linking_client import LinkingClient
from tests.bot.helpers import Demo, open_from_journal, reach_code
from tests.support.bot_app import BotApp

CASE = "vkid_no_profile"


async def test_a_slow_backend_call_shows_typing_until_the_answer(
    app: BotApp, demo: Demo, monkeypatch: pytest.MonkeyPatch
) -> None:
    app.dp["typing_after"] = 0.0  # the production delay is half a second
    teacher = app.teacher(970)
    await open_from_journal(teacher, demo, CASE, "Нет")

    typing_seen, release = asyncio.Event(), asyncio.Event()
    action = app.telegram._SendChatAction

    def on_action(method: SendChatAction) -> bool:
        typing_seen.set()
        return action(method)

    app.telegram._SendChatAction = on_action  # type: ignore[method-assign]
    submit_phone = LinkingClient.submit_phone

    async def slow_submit_phone(client: LinkingClient, flow_id: str, phone: str):  # type: ignore[no-untyped-def]
        await release.wait()  # the backend takes its time
        return await submit_phone(client, flow_id, phone)

    # On the class: the bot calls the backend through a per-teacher view of its client.
    monkeypatch.setattr(LinkingClient, "submit_phone", slow_submit_phone)

    sending = asyncio.create_task(teacher.send(demo[CASE].phone))
    await typing_seen.wait()
    assert not sending.done()  # «печатает…» while the answer is still on its way
    release.set()
    await sending

    actions = app.telegram.calls_of(SendChatAction)
    assert [(a.chat_id, a.action) for a in actions] == [(teacher.chat.id, "typing")]
    assert "Создать учебный профиль" in teacher.buttons()


async def test_i_dont_know_what_to_do_opens_the_help_of_the_step(app: BotApp, demo: Demo) -> None:
    teacher = app.teacher(971)
    await reach_code(teacher, demo, CASE)
    await teacher.send("не знаю что делать")
    assert "Не получается? Обычно помогает вот что:" in teacher.last_text
    assert "последние 4 цифры" in teacher.last_text  # the tips of the code step
    await teacher.click("Вернуться к шагу")
    assert "Подтвердите вход" in teacher.last_text


async def test_typed_i_dont_know_on_the_branch_question_is_not_a_cry_for_help(
    app: BotApp, demo: Demo
) -> None:
    teacher = app.teacher(972)
    await teacher.send("/start " + await demo.token(CASE))
    await teacher.click("Начнём")
    await teacher.click("VPN выключен, продолжить")
    await teacher.send("не знаю")
    assert "Не получается? Обычно помогает" not in teacher.last_text
    assert "У вас уже есть учебный профиль Сферум" in teacher.last_text
