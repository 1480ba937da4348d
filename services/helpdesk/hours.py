"""Helpdesk working hours: whether operators are in now, and when they will be.

A day is a working day by the production calendar: Monday to Friday, except Russian public
holidays and their transferred days off, plus the Saturdays the government makes working days
(the `holidays` package knows both). The settings correct it for a year the package does not
know yet or for the helpdesk's own days off: extra holidays close a day, extra working days
open one; an extra working day wins over everything.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import holidays

PUBLIC_HOLIDAYS_COUNTRY = "RU"
# next_opening looks this far ahead; a calendar closed for longer is a configuration mistake.
MAX_CLOSED_DAYS = 366


@dataclass(frozen=True)
class WorkCalendar:
    """Which days are working days: the country's production calendar, then the settings."""

    extra_holidays: frozenset[date] = frozenset()
    extra_workdays: frozenset[date] = frozenset()
    country: str | None = PUBLIC_HOLIDAYS_COUNTRY
    _public: holidays.HolidayBase | None = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        public = holidays.country_holidays(self.country) if self.country else None
        object.__setattr__(self, "_public", public)

    @classmethod
    def from_settings(
        cls, extra_holidays: Iterable[date] = (), extra_workdays: Iterable[date] = ()
    ) -> WorkCalendar:
        return cls(frozenset(extra_holidays), frozenset(extra_workdays))

    def is_workday(self, day: date) -> bool:
        """True on a working day of the calendar."""
        if day in self.extra_workdays:
            return True
        if day in self.extra_holidays:
            return False
        if self._public is None:
            return day.weekday() < 5
        return self._public.is_working_day(day)


@dataclass(frozen=True)
class WorkingHours:
    """Daily opening hours (`"09:00-18:00"`) on working days, in one timezone."""

    opens: time
    closes: time
    timezone: ZoneInfo
    calendar: WorkCalendar = field(default_factory=WorkCalendar)

    @classmethod
    def parse(cls, spec: str, timezone: str, calendar: WorkCalendar | None = None) -> WorkingHours:
        """Read `"HH:MM-HH:MM"`; raises ValueError on anything else."""
        start, sep, end = spec.partition("-")
        if not sep:
            raise ValueError(f"working hours must look like 09:00-18:00, got {spec!r}")
        opens, closes = time.fromisoformat(start.strip()), time.fromisoformat(end.strip())
        if opens >= closes:
            raise ValueError(f"working hours must open before they close, got {spec!r}")
        return cls(
            opens=opens,
            closes=closes,
            timezone=ZoneInfo(timezone),
            calendar=calendar or WorkCalendar(),
        )

    def is_open(self, now: datetime) -> bool:
        """True when `now` (timezone-aware) falls inside the hours of a working day."""
        local = now.astimezone(self.timezone)
        return self.calendar.is_workday(local.date()) and self.opens <= local.time() < self.closes

    def next_opening(self, now: datetime) -> datetime:
        """The next moment the helpdesk opens, in the helpdesk's timezone (now if it is open).

        Raises ValueError when the calendar has no working day in the next year.
        """
        local = now.astimezone(self.timezone)
        if self.is_open(local):
            return local
        day = local.date()
        if local.time() >= self.opens:
            day += timedelta(days=1)
        for _ in range(MAX_CLOSED_DAYS):
            if self.calendar.is_workday(day):
                return datetime.combine(day, self.opens, tzinfo=self.timezone)
            day += timedelta(days=1)
        raise ValueError(f"no working day within {MAX_CLOSED_DAYS} days of {local.date()}")
