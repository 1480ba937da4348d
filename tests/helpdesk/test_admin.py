"""/stats and /export through the Dispatcher: exact figures on known events, admins only."""

from __future__ import annotations

import pytest
from aiogram.methods import SendDocument, SendPhoto
from aiogram.types import Chat

from services.storage.link_sessions import EventKind
from tests.helpdesk.harness import ADMIN
from tests.support.fake_telegram import Person


@pytest.fixture
async def known_events(hd, bot_clock) -> None:
    """Two A teachers: one linked (phone 30 s, code 90 s), one stuck on the code with a handoff."""
    sessions = hd.sessions
    for user in (1, 2):
        await sessions.begin(
            user_id=user,
            chat_id=user,
            flow_id="f",
            mesh_account_id="m",
            teacher_name="T",
            step="Onboarding:greeting",
        )
    bot_clock.advance(10)
    await sessions.enter_step(1, "Link:phone", scenario="new_profile")
    await sessions.enter_step(2, "Link:phone", scenario="new_profile")
    bot_clock.advance(30)
    await sessions.enter_step(1, "Link:code")
    bot_clock.advance(30)
    await sessions.enter_step(2, "Link:code")
    await sessions.record_event(2, EventKind.HANDOFF)
    await sessions.record_event(2, EventKind.RATING, value=5)
    bot_clock.advance(60)
    await sessions.record_event(1, EventKind.LINKED)


async def test_stats_for_an_admin(hd, known_events) -> None:
    admin = hd.teacher(ADMIN, "Админ")
    await admin.send("/stats today")

    text = admin.bot_messages()[-2].text
    funnel = text[
        : text.index("\n\n🙋")
    ]  # then the helpdesk (tests/helpdesk/test_helpdesk_stats.py)
    assert funnel.splitlines() == [
        "📊 <b>Воронка</b> · today",
        "Обращений в поддержку: 1 · оценок: 1 · средняя оценка: 5",
        "",
        "<b>A: новый учебный профиль Сферум</b>",
        "начали: 2",
        "телефон: 2 (100%) · медиана 45 с · в поддержку 0",
        "код: 2 (100%) · медиана 1 мин 30 с · в поддержку 1",
        "привязали: 1 (50%)",
        "средняя оценка: 5 (1)",
    ]
    chart = hd.telegram.calls_of(SendPhoto)[-1]
    assert chart.chat_id == ADMIN and chart.photo.data.startswith(b"\x89PNG")


async def test_export_sends_the_csv(hd, known_events) -> None:
    admin = hd.teacher(ADMIN, "Админ")
    await admin.send("/export 2026-11-25..2026-11-25")

    document = hd.telegram.calls_of(SendDocument)[-1]
    assert document.document.filename == "funnel_2026-11-25_2026-11-25.csv"
    assert document.document.data.decode().splitlines() == [
        "scenario,stage,teachers,conversion_pct,median_seconds,handoffs,refusals,ratings,average_rating",
        "new_profile,started,2,100,,,,,",
        "new_profile,Link:phone,2,100,45,0,0,,",
        "new_profile,Link:code,2,100,90,1,0,,",
        "new_profile,completed,1,50,,1,0,1,5",
    ]


async def test_a_bad_period_is_explained(hd) -> None:
    admin = hd.teacher(ADMIN, "Админ")
    await admin.send("/stats yesterday")
    assert admin.last_text == "Период: today, 7d, 30d или ГГГГ-ММ-ДД..ГГГГ-ММ-ДД."


async def test_stats_and_export_are_for_admins_only(hd, known_events) -> None:
    teacher = hd.teacher(100)
    await teacher.send("/stats")
    await teacher.send("/export")

    assert not hd.telegram.calls_of(SendDocument) and not hd.telegram.calls_of(SendPhoto)
    assert all("Воронка" not in (m.text or "") for m in teacher.bot_messages())


async def test_stats_and_export_answer_an_admin_only_in_her_private_chat(hd, known_events) -> None:
    staff_room = Chat(id=-1007777, type="supergroup", title="Учительская")
    admin_in_a_group = Person(
        hd.dp, hd.bot, hd.telegram, user_id=ADMIN, first_name="Админ", chat=staff_room
    )
    await admin_in_a_group.send("/stats today")
    await admin_in_a_group.send("/export today")

    assert not hd.telegram.calls_of(SendDocument) and not hd.telegram.calls_of(SendPhoto)
    assert admin_in_a_group.bot_messages() == []
    # The same admin in private gets her figures: the refusal is about the place, not the person.
    await hd.teacher(ADMIN, "Админ").send("/stats today")
    assert hd.telegram.calls_of(SendPhoto)


async def test_the_chart_is_drawn_in_a_worker_thread(hd, known_events, monkeypatch) -> None:
    import threading

    from bot.handlers import admin as admin_handlers

    drawn_in: list[threading.Thread] = []
    draw = admin_handlers.funnel_chart_png

    def recording(*args, **kwargs):  # type: ignore[no-untyped-def]
        drawn_in.append(threading.current_thread())
        return draw(*args, **kwargs)

    monkeypatch.setattr(admin_handlers, "funnel_chart_png", recording)
    await hd.teacher(ADMIN, "Админ").send("/stats today")

    assert drawn_in and drawn_in[0] is not threading.main_thread()
    assert hd.telegram.calls_of(SendPhoto)[-1].photo.data.startswith(b"\x89PNG")


def test_the_bot_starts_without_importing_matplotlib() -> None:
    import subprocess
    import sys

    code = "import sys, bot.__main__, bot.app; sys.exit('matplotlib' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0
