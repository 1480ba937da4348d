"""Waiting times as the teacher reads them (m:ss; hours in words), counted on the bot's own clock.

The backend says how many seconds are left (`resend_after`, `retry_after`); the bot adds them to
its clock when the answer arrives and counts down from there, so a clock difference between bot
and backend never shows a wrong countdown.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta

from aiogram.utils.i18n import get_i18n
from babel.dates import format_timedelta


def deadline(seconds: float, at: datetime) -> str:
    """The moment `seconds` after `at`, as stored in dialog data (ISO 8601)."""
    return (at + timedelta(seconds=max(0.0, seconds))).isoformat()


def seconds_until(moment: str | None, at: datetime) -> int:
    """Whole seconds from `at` to a stored `deadline` (rounded up), 0 when passed or unknown."""
    if not moment:
        return 0
    return max(0, math.ceil((datetime.fromisoformat(moment) - at).total_seconds()))


def format_clock(seconds: int) -> str:
    """Every wait the teacher reads, as the VK ID windows show it: 0:56, 1:15, 4:51, 15:00.

    An hour or more is no countdown to watch but a time to come back: «22 ч 14 мин» in her
    language (Babel), minutes rounded up so the wait is never shorter than said.
    """
    seconds = max(0, int(seconds))
    if seconds < 3600:
        return f"{seconds // 60}:{seconds % 60:02d}"
    hours, minutes = divmod(math.ceil(seconds / 60), 60)
    parts = [_unit(timedelta(hours=hours))]
    if minutes:
        parts.append(_unit(timedelta(minutes=minutes)))
    return " ".join(parts)


def _unit(amount: timedelta) -> str:
    # threshold=1: the largest unit that is at least one («22 ч», not «1 дн.»).
    return format_timedelta(amount, threshold=1, format="short", locale=get_i18n().current_locale)
