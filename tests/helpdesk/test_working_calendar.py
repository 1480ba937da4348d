"""Working hours follow the Russian production calendar and the settings' corrections.

Fixed dates: 2027-01-05 is a Tuesday of the New Year holidays (closed until Monday the 11th);
2027-02-20 is a Saturday made a working day (transferred from 2027-02-22, which is closed);
2027-03-13 is an ordinary Saturday; 2027-03-10 an ordinary Wednesday.
"""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from bot.config import Settings
from services.helpdesk import WorkCalendar, WorkingHours
from tests.helpdesk.harness import helpdesk_app, walk_to_phone_step

TEACHER = 301


def msk(day: str, hour: int, minute: int = 0) -> datetime:
    """A Moscow wall-clock moment (UTC+3) on the ISO `day`."""
    local = date.fromisoformat(day)
    return datetime(local.year, local.month, local.day, hour - 3, minute, tzinfo=UTC)


def hours(*, holidays: tuple[str, ...] = (), workdays: tuple[str, ...] = ()) -> WorkingHours:
    calendar = WorkCalendar.from_settings(
        [date.fromisoformat(d) for d in holidays], [date.fromisoformat(d) for d in workdays]
    )
    return WorkingHours.parse("09:00-18:00", "Europe/Moscow", calendar)


def opens(working: WorkingHours, now: datetime) -> str:
    return working.next_opening(now).strftime("%Y-%m-%d %H:%M")


def test_new_year_holidays_are_closed_until_the_first_working_monday() -> None:
    calendar = hours()
    assert not calendar.is_open(msk("2027-01-05", 12))
    assert opens(calendar, msk("2027-01-05", 12)) == "2027-01-11 09:00"
    assert calendar.is_open(msk("2027-01-11", 9))


def test_a_transferred_working_saturday_is_open_and_its_monday_closed() -> None:
    calendar = hours()
    assert calendar.is_open(msk("2027-02-20", 10))  # Saturday, a working day by decree
    assert not calendar.is_open(msk("2027-02-22", 10))  # Monday, the day off it moved to
    assert opens(calendar, msk("2027-02-19", 19)) == "2027-02-20 09:00"
    assert opens(calendar, msk("2027-02-20", 19)) == "2027-02-24 09:00"  # 22 off, 23 holiday


def test_the_settings_add_holidays_and_working_days() -> None:
    plain = hours()
    assert plain.is_open(msk("2027-03-10", 12)) and not plain.is_open(msk("2027-03-13", 12))

    corrected = hours(holidays=("2027-03-10",), workdays=("2027-03-13",))
    assert not corrected.is_open(msk("2027-03-10", 12))
    assert opens(corrected, msk("2027-03-10", 12)) == "2027-03-11 09:00"
    assert corrected.is_open(msk("2027-03-13", 12))
    # An extra working day wins even over a public holiday.
    assert hours(workdays=("2027-01-05",)).is_open(msk("2027-01-05", 12))


def test_a_calendar_without_working_days_is_refused_not_looped_forever() -> None:
    year = [date.fromordinal(date(2027, 1, 1).toordinal() + n) for n in range(400)]
    closed = WorkingHours.parse(
        "09:00-18:00", "Europe/Moscow", WorkCalendar(frozenset(year), frozenset())
    )
    with pytest.raises(ValueError, match="no working day"):
        closed.next_opening(msk("2027-01-05", 12))


def test_the_settings_read_the_days_from_the_environment(monkeypatch) -> None:
    monkeypatch.setenv("HELPDESK_EXTRA_HOLIDAYS", '["2027-03-10"]')
    monkeypatch.setenv("HELPDESK_EXTRA_WORKDAYS", '["2027-03-13", "2027-03-20"]')
    settings = Settings(_env_file=None)
    assert settings.helpdesk_extra_holidays == [date(2027, 3, 10)]
    assert settings.helpdesk_extra_workdays == [date(2027, 3, 13), date(2027, 3, 20)]


async def test_on_a_public_holiday_the_teacher_is_told_the_next_working_day(
    hd, demo, bot_clock
) -> None:
    teacher = hd.teacher(TEACHER)
    await walk_to_phone_step(teacher, await demo.token("vkid_no_profile"))
    bot_clock.set(msk("2027-01-05", 12))
    await teacher.send("позовите человека")
    assert "Сейчас нерабочее время" in teacher.last_text
    assert "11.01 после 09:00" in teacher.last_text


async def test_a_working_day_from_the_settings_opens_the_helpdesk(
    tmp_path, backend, bot_clock, demo
) -> None:
    async with helpdesk_app(
        tmp_path, backend.url, clock=bot_clock, helpdesk_extra_workdays=[date(2027, 3, 13)]
    ) as app:
        teacher = app.teacher(TEACHER)
        await walk_to_phone_step(teacher, await demo.token("vkid_no_profile"))
        bot_clock.set(msk("2027-03-13", 12))  # a Saturday
        await teacher.send("позовите человека")
        assert "Сейчас нерабочее время" not in teacher.last_text
        assert "обычно в течение" in teacher.last_text
