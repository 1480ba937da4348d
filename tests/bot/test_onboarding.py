"""/start with and without the e-journal's link, bad links, an already linked account."""

from __future__ import annotations

from services.clock import FakeClock
from tests.bot.helpers import Demo, open_from_journal
from tests.support.bot_app import BotApp


async def test_start_without_a_link_explains_the_e_journal_steps(app: BotApp) -> None:
    teacher = app.teacher(300)
    await teacher.send("/start")
    assert "Нажмите на кнопку «Перейти к подключению»" in teacher.last_text
    assert "значок мессенджера" in teacher.last_text
    url_buttons = [b for row in teacher.last.reply_markup.inline_keyboard for b in row if b.url]
    assert [b.url for b in url_buttons] == [app.settings.mesh_journal_url]


async def test_malformed_link_is_refused_without_asking_the_backend(app: BotApp) -> None:
    teacher = app.teacher(301)
    await teacher.send("/start this is not a token!")
    assert "Эта ссылка недействительна" in teacher.last_text


async def test_forged_link_is_invalid(app: BotApp) -> None:
    teacher = app.teacher(302)
    await teacher.send("/start " + "A" * 40)
    assert "Эта ссылка недействительна" in teacher.last_text


async def test_expired_link(app: BotApp, demo: Demo, clock: FakeClock) -> None:
    token = await demo.token("vkid_no_profile")
    clock.advance(3601)
    teacher = app.teacher(303)
    await teacher.send("/start " + token)
    assert "Срок действия ссылки истёк" in teacher.last_text


async def test_used_link_in_a_new_chat(app: BotApp, demo: Demo) -> None:
    token = await demo.token("vkid_no_profile")
    first = app.teacher(304)
    await first.send("/start " + token)
    second = app.teacher(305)
    await second.send("/start " + token)
    assert "Эта ссылка уже использована" in second.last_text


async def test_already_linked_account_shows_the_profile(app: BotApp, demo: Demo) -> None:
    teacher = app.teacher(306)
    await teacher.send("/start " + await demo.token("already_linked"))
    assert "уже привязана к учебному профилю Сферум" in teacher.last_text
    assert "Соколов Дмитрий Александрович" in teacher.last_text


async def test_same_link_mid_dialog_resumes(app: BotApp, demo: Demo) -> None:
    teacher = app.teacher(307)
    token = await demo.token("vkid_no_profile")
    await teacher.send("/start " + token)
    await teacher.click("Начнём")
    await teacher.click("VPN выключен, продолжить")
    await teacher.click("Нет")
    await teacher.send(demo["vkid_no_profile"].phone)

    await teacher.send("/start " + token)
    assert "Продолжим с того места" in teacher.last_text
    assert "Создать учебный профиль" in teacher.buttons()


async def test_plain_start_mid_dialog_resumes(app: BotApp, demo: Demo) -> None:
    teacher = app.teacher(308)
    await open_from_journal(teacher, demo, "vkid_no_profile")
    await teacher.send("/start")
    assert "Продолжим с того места" in teacher.last_text
    assert "Номер телефона" in teacher.last_text


async def test_new_link_restarts_cleanly(app: BotApp, demo: Demo) -> None:
    teacher = app.teacher(309)
    await open_from_journal(teacher, demo, "vkid_no_profile")
    await teacher.send(demo["vkid_no_profile"].phone)

    await teacher.send("/start " + await demo.token("profile_exists"))
    assert "Здравствуйте, Мария Петровна!" in teacher.last_text
    record = await app.sessions.get(309)
    assert record is not None and record.mesh_account_id == demo["profile_exists"].mesh_account_id
    assert record.step == "Onboarding:greeting"
