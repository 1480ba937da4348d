"""The harness runs production's runtime: a restart is a new runtime on the same database."""

from __future__ import annotations

from tests.support.bot_app import BotApp


async def test_a_restart_is_a_new_runtime_on_what_the_old_one_committed(app: BotApp) -> None:
    first = app.runtime
    teacher = app.teacher(1300)
    await teacher.send("/language")
    await teacher.click("English")

    await app.restart()

    assert app.runtime is not first and app.dp is not first.dp and app.bot is not first.bot
    assert (teacher.dp, teacher.bot) == (app.dp, app.bot)  # she talks to the new process
    assert await app.sessions.get_locale(1300) == "en"  # what the old one committed
    await teacher.send("/start")
    assert "e-journal" in teacher.last_text
