"""/language: English on request, remembered across restarts; Russian by default."""

from __future__ import annotations

from tests.bot.helpers import Demo
from tests.support.bot_app import BotApp


async def test_teacher_switches_to_english_mid_step_and_it_is_remembered(
    app: BotApp, demo: Demo
) -> None:
    teacher = app.teacher(700, language_code="en")
    await teacher.send("/start " + await demo.token("vkid_no_profile"))
    assert "Здравствуйте" in teacher.last_text  # Russian until she chooses

    await teacher.send("/language")
    await teacher.click("English")
    assert "Hello, Андрей Сергеевич!" in teacher.last_text
    assert teacher.buttons() == [
        "Let's start",
        "🖥 I will do it myself in the e-journal",
        "It doesn't work",
    ]
    assert await app.sessions.get_locale(700) == "en"

    await app.restart()
    await teacher.click("Let's start")
    assert "Before we start" in teacher.last_text

    await teacher.send("/language")
    await teacher.click("Русский")
    assert "Перед началом" in teacher.last_text


async def test_english_refusals_use_english_plural_forms(app: BotApp, demo: Demo) -> None:
    teacher = app.teacher(701)
    await teacher.send("/language")
    await teacher.click("English")
    await teacher.send("/start " + await demo.token("vkid_no_profile"))
    await teacher.click("Let's start")
    await teacher.click("VPN is off, continue")
    await teacher.click("No")
    await teacher.send(demo["vkid_no_profile"].phone)
    await teacher.click("Create a study profile")
    await teacher.send("wrong")
    assert "That VK ID password is incorrect. 4 attempts left." in teacher.last_text
