"""Guide mode's watcher: stuck on a screen → help and a specialist with the exact screen on the
helpdesk card; one watcher per flow across processes (the lease in the bot's database); resuming
after a restart; the real background loop long-polling the backend."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import update

from bot.guide_watcher import GuideWatcher
from services.clock import FakeClock
from services.linking.in_process import RunningBackend
from services.storage.db import create_session_factory
from services.storage.guide_watches import GuideWatch, GuideWatches
from tests.bot.helpers import Demo
from tests.guide.test_guide_mode import CASE, Window, follow, guide_from_greeting
from tests.helpdesk.harness import HELPDESK, HelpdeskApp, only_topic
from tests.support.bot_app import BotApp, make_bot_app


async def test_stuck_on_a_screen_offers_a_specialist_who_sees_the_screen(
    hd: HelpdeskApp, demo: Demo, clock: FakeClock
) -> None:
    teacher = hd.teacher(800)
    await guide_from_greeting(teacher, demo)
    window = Window(hd.app, demo, CASE)
    await window.open()
    await window.phone()
    await window.password()
    await follow(hd.app, window)
    clock.advance(120)
    await follow(hd.app, window)
    assert "давно на этом экране" not in teacher.last_text
    clock.advance(61)
    await follow(hd.app, window)
    assert "Вы уже давно на этом экране" in teacher.last_text
    assert "«Подтвердите вход»" in teacher.last_text  # and what to do there, again
    await teacher.click("Позвать специалиста")
    assert "Обращение #1" in teacher.last_text
    card = hd.chat.messages(only_topic(hd))[0].text or ""
    assert "окно журнала: «Подтвердите вход» (code)" in card
    assert "Guide:" not in card and "<code>" not in card  # the screen, never a state name
    assert "A: новый учебный профиль Сферум" in card  # the scenario the window's phone decided
    assert (HELPDESK, only_topic(hd)) in hd.telegram.topics


async def test_one_watcher_per_flow_across_processes(app: BotApp, demo: Demo) -> None:
    teacher = app.teacher(801)
    await guide_from_greeting(teacher, demo)
    window = Window(app, demo, CASE)
    await window.open()
    # Another replica on the same database wants to follow the same flow.
    other = GuideWatcher(
        app.dp["bg_factory"],
        app.linking,
        app.clock,
        GuideWatches(create_session_factory(app.engine), owner="other-replica"),
        autostart=False,
    )
    other.follow(app.bot, 801, 801, window.flow_id)
    assert await follow_and_count(app, window) is True  # this process holds the lease
    assert await other.pump(window.flow_id) is None  # the other one leaves it alone
    # This process dies: its lease lapses and the other one goes on from the stored cursor.
    async with create_session_factory(app.engine)() as db, db.begin():
        await db.execute(
            update(GuideWatch).values(expires_at=datetime.now(UTC) - timedelta(seconds=1))
        )
    await window.phone()
    sent = len(teacher.log.messages)
    assert await other.pump(window.flow_id) is True
    assert "«Введите пароль»" in teacher.last_text
    assert len(teacher.log.messages) > sent


async def follow_and_count(app: BotApp, window: Window) -> bool | None:
    return await app.guide.pump(window.flow_id)


async def test_a_restarted_bot_resumes_following_without_her_writing(
    app: BotApp, demo: Demo
) -> None:
    teacher = app.teacher(802)
    await guide_from_greeting(teacher, demo)
    window = Window(app, demo, CASE)
    await window.open()
    await follow(app, window)
    await app.restart()
    assert not app.guide.following(window.flow_id)  # a new process knows nothing yet
    async with create_session_factory(app.engine)() as db, db.begin():  # the old one's lease
        await db.execute(
            update(GuideWatch).values(
                owner="dead-process", expires_at=datetime.now(UTC) - timedelta(seconds=1)
            )
        )
    assert await app.guide.resume(app.bot) == 1
    await window.phone()
    await follow(app, window)
    assert "«Введите пароль»" in teacher.last_text


async def test_the_background_loop_follows_the_window_by_itself(
    tmp_path: Path, backend: RunningBackend, clock: FakeClock
) -> None:
    async with make_bot_app(tmp_path, backend.url, clock=clock, guide_autostart=True) as app:
        demo = await Demo.load(app.linking)
        teacher = app.teacher(803)
        await guide_from_greeting(teacher, demo)
        window = Window(app, demo, CASE)
        await window.open()
        await window.phone()
        seq = (await app.linking.for_user(803).flow_events(window.flow_id)).next
        await app.guide.caught_up(window.flow_id, seq)  # woken by the long-poll, no sleeping
        assert "«Введите пароль»" in teacher.last_text
        await window.password()
        seq = (await app.linking.for_user(803).flow_events(window.flow_id)).next
        await app.guide.caught_up(window.flow_id, seq)
        assert "«Подтвердите вход»" in teacher.last_text
