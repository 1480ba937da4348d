"""Scenario C in the guide's order and words: the sign-out choice before the repeated password,
the device's suggested password, «Я не помню данные или к ним нет доступа»."""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from services.linking.in_process import RunningBackend
from tests.bot.helpers import Demo
from tests.helpdesk.harness import HelpdeskApp, only_topic
from tests.recovery.steps import NEW_PASSWORD, reach_new_password
from tests.support.bot_app import BotApp

CASE = "forgot_password_app"


async def _logout_choices(backend: RunningBackend) -> list[bool | None]:
    engine = create_async_engine(backend.settings.database_url)
    try:
        async with engine.connect() as db:
            rows = await db.execute(
                text("SELECT logout_other_sessions FROM recoveries WHERE state = 'done'")
            )
            return [row[0] for row in rows]
    finally:
        await engine.dispose()


async def test_the_sign_out_choice_comes_before_the_repeated_password(
    app: BotApp, demo: Demo, backend: RunningBackend
) -> None:
    teacher = app.teacher(920)
    await reach_new_password(teacher, demo, CASE)
    await teacher.send(NEW_PASSWORD)

    window = teacher.last_text
    assert "Повторите новый пароль" in window
    tick = window.index("«Выйти на всех устройствах, кроме этого»")
    assert tick < window.index("напишите тот же пароль")  # first tick, then write
    assert "Пришлите" not in window and "Отправьте" not in window

    await teacher.click("Выйти на всех устройствах, кроме этого")
    await teacher.send(NEW_PASSWORD)
    assert "Пароль изменён" in teacher.last_text
    assert await _logout_choices(backend) == [True]  # the tick reached VK ID with the password


async def test_the_new_password_step_mentions_the_devices_suggestion(
    app: BotApp, demo: Demo
) -> None:
    teacher = app.teacher(921)
    await reach_new_password(teacher, demo, CASE)
    assert "Придумайте новый пароль" in teacher.last_text
    assert "пароль, предложенный устройством" in teacher.last_text


async def test_no_access_to_the_details_reaches_a_person(hd: HelpdeskApp, demo: Demo) -> None:
    teacher = hd.teacher(922)
    await teacher.send("/start " + await demo.token(CASE))
    await teacher.send("забыла пароль")
    assert "Я не помню данные или к ним нет доступа" in teacher.buttons()

    await teacher.click("Я не помню данные или к ним нет доступа")
    assert "Обращение #1" in teacher.last_text
    ticket = await hd.relay.tickets.get(1)
    assert ticket is not None and ticket.reason == "no_access" and ticket.is_open
    assert only_topic(hd)
