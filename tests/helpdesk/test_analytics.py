"""The funnel on a known set of events: exact figures, CSV, period parsing, chart."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from services.analytics import FunnelReport, funnel_chart_png, funnel_csv, load_report, parse_period
from services.storage.link_sessions import EventKind, LinkSessionRepository

T0 = datetime(2025, 3, 12, 7, 0, tzinfo=UTC)


async def walk(sessions: LinkSessionRepository, wall, user: int, steps: list[tuple[str, int]]):
    """`begin`, then each (step, seconds spent before entering it)."""
    await sessions.begin(
        user_id=user,
        chat_id=user,
        flow_id="f",
        mesh_account_id="m",
        teacher_name="T",
        step="Onboarding:greeting",
    )
    for step, after in steps:
        wall.advance(seconds=after)
        await sessions.enter_step(user, step, scenario="new_profile")


@pytest.fixture
async def known_events(sessions: LinkSessionRepository, wall) -> None:
    """Three A teachers and one B teacher; two handoffs, two ratings, one refusal."""
    wall.moment = T0
    # 1: phone (after 10 s) → code (after 30 s) → linked after 60 s
    await walk(sessions, wall, 1, [("Link:phone", 10), ("Link:code", 30)])
    wall.advance(seconds=60)
    await sessions.record_event(1, EventKind.LINKED)
    # 2: phone after 20 s → code after 50 s, refusal and a handoff on the code, rating 4
    await walk(sessions, wall, 2, [("Link:phone", 20), ("Link:code", 50)])
    await sessions.record_refusal(2, "code_invalid")
    await sessions.record_event(2, EventKind.HANDOFF)
    await sessions.record_event(2, EventKind.RATING, value=4)
    # 3: phone after 30 s, stuck there, handoff on the phone, rating 2
    await walk(sessions, wall, 3, [("Link:phone", 30)])
    await sessions.record_event(3, EventKind.HANDOFF)
    await sessions.record_event(3, EventKind.RATING, value=2)
    # 4: B scenario, phone after 5 s then linked 100 s later
    await sessions.begin(
        user_id=4,
        chat_id=4,
        flow_id="f",
        mesh_account_id="m",
        teacher_name="T",
        step="Onboarding:greeting",
    )
    wall.advance(seconds=5)
    await sessions.enter_step(4, "Link:phone", scenario="existing_profile")
    wall.advance(seconds=100)
    await sessions.record_event(4, EventKind.LINKED)


async def test_funnel_figures(sessions, wall, known_events) -> None:
    period = parse_period("today", now=T0 + timedelta(hours=1), timezone="Europe/Moscow")
    report = await load_report(sessions, period, step_order=["Link:phone", "Link:code"])

    assert [f.scenario for f in report.scenarios] == ["existing_profile", "new_profile"]
    a = report.scenarios[1]
    assert (a.started, a.completed, a.conversion) == (3, 1, 33.3)
    phone, code = a.steps
    assert (phone.step, phone.reached, phone.conversion) == ("Link:phone", 3, 100.0)
    assert phone.median_seconds == 40.0  # 30 s (teacher 1) and 50 s (teacher 2)
    assert (phone.handoffs, code.handoffs) == (1, 1)
    assert (code.reached, code.conversion, code.median_seconds) == (2, 66.7, 60.0)
    assert code.refusals == 1
    assert (a.ratings, a.average_rating) == (2, 3.0)
    b = report.scenarios[0]
    assert (b.started, b.completed, b.steps[0].median_seconds) == (1, 1, 100.0)
    assert (report.handoffs, report.ratings, report.average_rating) == (2, 2, 3.0)


async def test_funnel_csv(sessions, wall, known_events) -> None:
    period = parse_period("2025-03-12..2025-03-12", now=T0, timezone="Europe/Moscow")
    report = await load_report(sessions, period, step_order=["Link:phone", "Link:code"])

    assert funnel_csv(report).splitlines() == [
        "scenario,stage,teachers,conversion_pct,median_seconds,handoffs,refusals,ratings,average_rating",
        "existing_profile,started,1,100,,,,,",
        "existing_profile,Link:phone,1,100,100,0,0,,",
        "existing_profile,completed,1,100,,0,0,0,",
        "new_profile,started,3,100,,,,,",
        "new_profile,Link:phone,3,100,40,1,0,,",
        "new_profile,Link:code,2,66.7,60,1,1,,",
        "new_profile,completed,1,33.3,,2,1,2,3",
    ]


async def test_the_period_limits_the_events(sessions, wall, known_events) -> None:
    period = parse_period("2025-03-11..2025-03-11", now=T0, timezone="Europe/Moscow")
    report = await load_report(sessions, period)
    assert report.scenarios == [] and report.ratings == 0


def test_periods() -> None:
    now = datetime(2025, 3, 12, 12, 0, tzinfo=UTC)  # 15:00 in Moscow
    today = parse_period("today", now=now, timezone="Europe/Moscow")
    assert today.since == datetime(2025, 3, 11, 21, 0, tzinfo=UTC)
    week = parse_period(None, now=now, timezone="Europe/Moscow")
    assert (week.label, now - week.since) == ("7d", timedelta(days=7))
    days = parse_period("2025-03-01..2025-03-02", now=now, timezone="Europe/Moscow")
    assert days.until - days.since == timedelta(days=2)
    for bad in ("yesterday", "2025-03-02..2025-03-01", "0d"):
        with pytest.raises(ValueError):
            parse_period(bad, now=now, timezone="Europe/Moscow")


def test_chart_is_a_png() -> None:
    period = parse_period("today", now=T0, timezone="Europe/Moscow")
    report = FunnelReport(period, scenarios=[])
    assert funnel_chart_png(report, title="empty").startswith(b"\x89PNG")
