"""Waiting times as the teacher reads them, counted on the bot's own clock.

The backend says how many seconds are left (`resend_after`, `retry_after`); the bot adds them to
its clock when the answer arrives and counts down from there, so a clock difference between bot
and backend never shows a wrong countdown.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta

from aiogram.utils.i18n import ngettext


def deadline(seconds: float, at: datetime) -> str:
    """The moment `seconds` after `at`, as stored in dialog data (ISO 8601)."""
    return (at + timedelta(seconds=max(0.0, seconds))).isoformat()


def seconds_until(moment: str | None, at: datetime) -> int:
    """Whole seconds from `at` to a stored `deadline` (rounded up), 0 when passed or unknown."""
    if not moment:
        return 0
    return max(0, math.ceil((datetime.fromisoformat(moment) - at).total_seconds()))


def format_duration(seconds: int) -> str:
    """«56 секунд», «2 минуты», «1 час» (rounded up to whole minutes/hours above a minute)."""
    seconds = max(0, int(seconds))
    if seconds < 60:
        return ngettext("{n} second", "{n} seconds", seconds).format(n=seconds)
    if seconds < 3600:
        minutes = -(-seconds // 60)
        return ngettext("{n} minute", "{n} minutes", minutes).format(n=minutes)
    hours = -(-seconds // 3600)
    return ngettext("{n} hour", "{n} hours", hours).format(n=hours)


def format_clock(seconds: int) -> str:
    """A countdown as the VK ID windows show it: 0:56, 1:15, 4:51."""
    seconds = max(0, int(seconds))
    return f"{seconds // 60}:{seconds % 60:02d}"
