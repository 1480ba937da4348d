"""The period a report covers, as the people who run the service type it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

MAX_DAYS = 3660


@dataclass(frozen=True)
class Period:
    since: datetime  # aware, inclusive
    until: datetime  # aware, exclusive
    label: str

    @property
    def utc_bounds(self) -> tuple[datetime, datetime]:
        """The bounds in UTC: the tables store UTC moments."""
        return self.since.astimezone(UTC), self.until.astimezone(UTC)


def parse_period(text: str | None, *, now: datetime, timezone: str) -> Period:
    """`today` | `7d` | `30d` | `YYYY-MM-DD..YYYY-MM-DD` (inclusive days, local time).

    Empty means `7d`. Raises ValueError on anything else.
    """
    tz = ZoneInfo(timezone)
    local_now = now.astimezone(tz)
    spec = (text or "7d").strip().lower()
    if spec == "today":
        midnight = datetime.combine(local_now.date(), time(), tzinfo=tz)
        return Period(midnight, local_now + timedelta(microseconds=1), "today")
    if spec.endswith("d") and spec[:-1].isdigit() and 0 < int(spec[:-1]) <= MAX_DAYS:
        days = int(spec[:-1])
        return Period(local_now - timedelta(days=days), local_now + timedelta(microseconds=1), spec)
    first, sep, last = spec.partition("..")
    if sep:
        start, end = date.fromisoformat(first), date.fromisoformat(last)
        if end < start:
            raise ValueError("the period ends before it starts")
        return Period(
            datetime.combine(start, time(), tzinfo=tz),
            datetime.combine(end + timedelta(days=1), time(), tzinfo=tz),
            f"{start.isoformat()}..{end.isoformat()}",
        )
    raise ValueError(f"unknown period {text!r}")
