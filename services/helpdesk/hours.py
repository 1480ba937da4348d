"""Helpdesk working hours: whether operators are in now, and when they will be."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

WORKDAYS = frozenset(range(5))  # Monday..Friday


@dataclass(frozen=True)
class WorkingHours:
    """Daily opening hours (`"09:00-18:00"`) on working days, in one timezone."""

    opens: time
    closes: time
    timezone: ZoneInfo
    workdays: frozenset[int] = WORKDAYS

    @classmethod
    def parse(cls, spec: str, timezone: str) -> WorkingHours:
        """Read `"HH:MM-HH:MM"`; raises ValueError on anything else."""
        start, sep, end = spec.partition("-")
        if not sep:
            raise ValueError(f"working hours must look like 09:00-18:00, got {spec!r}")
        opens, closes = time.fromisoformat(start.strip()), time.fromisoformat(end.strip())
        if opens >= closes:
            raise ValueError(f"working hours must open before they close, got {spec!r}")
        return cls(opens=opens, closes=closes, timezone=ZoneInfo(timezone))

    def is_open(self, now: datetime) -> bool:
        """True when `now` (timezone-aware) falls inside the hours of a working day."""
        local = now.astimezone(self.timezone)
        return local.weekday() in self.workdays and self.opens <= local.time() < self.closes

    def next_opening(self, now: datetime) -> datetime:
        """The next moment the helpdesk opens, in the helpdesk's timezone (now if it is open)."""
        local = now.astimezone(self.timezone)
        if self.is_open(local):
            return local
        day = local.date()
        if local.time() >= self.opens:
            day += timedelta(days=1)
        while day.weekday() not in self.workdays:
            day += timedelta(days=1)
        return datetime.combine(day, self.opens, tzinfo=self.timezone)
