"""Countdowns move by themselves: the code window is edited in place every 15 s while the wait
runs and once when it is over, when «Запросить код ещё раз» appears — no tap needed."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiogram.methods import EditMessageText, SendMessage

from services.clock import FakeClock
from services.linking.in_process import RunningBackend
from tests.bot.helpers import Demo, open_from_journal, reach_code, reach_password
from tests.helpdesk.harness import helpdesk_app
from tests.recovery.steps import open_recovery_from_password
from tests.support.bot_app import BotApp, make_bot_app
from tests.support.manual_timer import ManualTimer

CASE = "vkid_no_profile"


@pytest.fixture
def timer(clock: FakeClock) -> ManualTimer:
    return ManualTimer(clock)


@pytest.fixture
async def app(
    tmp_path: Path, backend: RunningBackend, clock: FakeClock, timer: ManualTimer
) -> AsyncIterator[BotApp]:
    async with make_bot_app(tmp_path, backend.url, clock=clock, countdown_sleep=timer.sleep) as a:
        yield a


def edits_of(app: BotApp, chat_id: int, message_id: int) -> list[EditMessageText]:
    return [
        c
        for c in app.telegram.calls_of(EditMessageText)
        if c.chat_id == chat_id and c.message_id == message_id
    ]


async def test_the_call_countdown_moves_and_the_resend_button_comes_by_itself(
    app: BotApp, demo: Demo, timer: ManualTimer
) -> None:
    teacher = app.teacher(930)
    await reach_code(teacher, demo, CASE)
    window = teacher.last
    assert "Звонок поступит в течение 0:56" in teacher.last_text
    sent_before = len(app.telegram.calls_of(SendMessage))

    seen = []
    for expected_sleep in (15, 15, 15, 11):
        assert await timer.next_sleep() == expected_sleep
        await timer.wake()
        task = app.countdowns.running(930, 930)
        if expected_sleep == 11:
            assert task is not None
            await task  # the last edit; then the countdown is over
        else:
            await timer.next_sleep()  # edited, asleep again
        seen.append(teacher.last_text)

    assert [s.split("в течение ")[1][:4] for s in seen[:3]] == ["0:41", "0:26", "0:11"]
    assert "Звонок не поступил? Запросите код ещё раз" in seen[3]
    assert "Запросить код ещё раз" in teacher.buttons()
    assert teacher.last.message_id == window.message_id  # the same message, edited in place
    assert len(edits_of(app, window.chat.id, window.message_id)) == 4  # at most one edit per 15 s
    assert len(app.telegram.calls_of(SendMessage)) == sent_before  # nothing new in the chat
    assert app.countdowns.running(930, 930) is None and timer.asleep == []

    await teacher.click("Запросить код ещё раз")
    assert await demo.codes_received(CASE) == 2


async def test_the_countdown_stops_when_she_moves_on(
    app: BotApp, demo: Demo, timer: ManualTimer
) -> None:
    teacher = app.teacher(931)
    await reach_code(teacher, demo, CASE)
    window = teacher.last
    await timer.next_sleep()
    await teacher.send(await demo.last_code(CASE))
    assert "Напишите ваши настоящие ФИО" in teacher.last_text
    edits_before = len(edits_of(app, window.chat.id, window.message_id))

    # The next step window stopped it at once: no tick enters her dialog to find it gone.
    assert app.countdowns.running(931, 931) is None
    assert timer.asleep == []
    assert len(edits_of(app, window.chat.id, window.message_id)) == edits_before
    assert "Напишите ваши настоящие ФИО" in teacher.last_text


async def test_after_a_restart_the_next_render_schedules_the_countdown_again(
    app: BotApp, demo: Demo, timer: ManualTimer, clock: FakeClock
) -> None:
    teacher = app.teacher(932)
    await reach_code(teacher, demo, CASE)
    await timer.next_sleep()
    await app.restart()  # the countdown tasks die with the process
    assert app.countdowns.running(932, 932) is None

    clock.advance(20)
    await teacher.send("12")  # any update renders the window: right time, and ticking again
    assert "Звонок поступит в течение 0:36" in teacher.last_text
    assert await timer.next_sleep() == 15
    assert app.countdowns.running(932, 932) is not None


async def test_recovery_sms_button_counts_down_too(
    app: BotApp, demo: Demo, timer: ManualTimer
) -> None:
    teacher = app.teacher(933)
    await open_recovery_from_password(teacher, demo, "forgot_password_app")
    assert "Отправить SMS через 1:15" in teacher.buttons()
    await timer.next_sleep()
    await timer.wake()
    await timer.next_sleep()
    assert "Отправить SMS через 1:00" in teacher.buttons()


async def run_out(timer: ManualTimer, tasks: list[asyncio.Task[None]]) -> None:
    """Wake every sleeping countdown until all of `tasks` are over."""
    while not all(task.done() for task in tasks):
        asleep = asyncio.ensure_future(timer.next_sleep())
        running = [task for task in tasks if not task.done()]
        await asyncio.wait([asleep, *running], return_when=asyncio.FIRST_COMPLETED)
        if asleep.done():
            await timer.wake()
        else:
            asleep.cancel()


async def test_coarse_ticks_give_way_to_the_bots_edit_budget_but_the_last_one_never(
    app: BotApp, demo: Demo, timer: ManualTimer
) -> None:
    first, second = app.teacher(934), app.teacher(935)
    await reach_code(first, demo, CASE)
    await open_from_journal(second, demo, "profile_exists", "Да")  # B: the same 56 s call
    await second.send(demo["profile_exists"].phone)
    await second.send(demo["profile_exists"].vk_password or "")
    assert "Звонок поступит в течение 0:56" in second.last_text
    app.countdowns.max_edits_per_second = 1
    windows = {934: first.last.message_id, 935: second.last.message_id}
    tasks = [app.countdowns.running(uid, uid) for uid in windows]
    assert all(tasks)

    await timer.next_sleep(count=2)
    before = {uid: len(edits_of(app, uid, mid)) for uid, mid in windows.items()}
    await timer.wake()  # both wake in the same second of the fake clock …
    await timer.next_sleep(count=2)
    coarse = sorted(len(edits_of(app, uid, mid)) - before[uid] for uid, mid in windows.items())
    assert coarse == [0, 1]  # … and only one of them may edit in it

    await run_out(timer, tasks)  # type: ignore[arg-type]
    assert "Запросить код ещё раз" in first.buttons()  # the last edit is never skipped
    assert "Запросить код ещё раз" in second.buttons()


async def test_a_tick_keeps_the_write_to_the_specialist_button(
    tmp_path: Path, backend: RunningBackend, clock: FakeClock, timer: ManualTimer, demo: Demo
) -> None:
    (tmp_path / "hd").mkdir()  # its own bot database beside the fixture's
    async with helpdesk_app(
        tmp_path / "hd", backend.url, clock=clock, countdown_sleep=timer.sleep
    ) as hd:
        teacher = hd.teacher(936)
        await reach_password(teacher, demo, CASE)
        await teacher.send("позовите человека")
        await teacher.click("Вернуться к боту")
        await teacher.send(demo[CASE].vk_password or "")
        assert "Звонок поступит в течение 0:56" in teacher.last_text
        assert "✍️ Написать специалисту" in teacher.buttons()

        await timer.next_sleep()
        await timer.wake()
        await timer.next_sleep()  # edited in the background, asleep again
        assert "Звонок поступит в течение 0:41" in teacher.last_text
        assert "✍️ Написать специалисту" in teacher.buttons()
