"""Waiting times as the teacher reads them (m:ss), counted on the bot's own clock.

The backend says how many seconds are left (`resend_after`, `retry_after`); the bot adds them to
its clock when the answer arrives and counts down from there, so a clock difference between bot
and backend never shows a wrong countdown.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta


def deadline(seconds: float, at: datetime) -> str:
    """The moment `seconds` after `at`, as stored in dialog data (ISO 8601)."""
    return (at + timedelta(seconds=max(0.0, seconds))).isoformat()


def seconds_until(moment: str | None, at: datetime) -> int:
    """Whole seconds from `at` to a stored `deadline` (rounded up), 0 when passed or unknown."""
    if not moment:
        return 0
    return max(0, math.ceil((datetime.fromisoformat(moment) - at).total_seconds()))


def format_clock(seconds: int) -> str:
    """Every wait the teacher reads, as the VK ID windows show it: 0:56, 1:15, 4:51, 15:00;
    an hour or more as 1:00:00 (the one time format of the bot)."""
    seconds = max(0, int(seconds))
    hours, rest = divmod(seconds, 3600)
    if hours:
        return f"{hours}:{rest // 60:02d}:{rest % 60:02d}"
    return f"{seconds // 60}:{seconds % 60:02d}"
