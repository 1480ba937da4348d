"""Collision-free aiogram-dialog intent and stack ids.

aiogram-dialog 2.6 builds ids from the current second plus `random.randint(0, 99)`: two dialogs
started in the same second (Onboarding starting Link, Link starting Recovery) collide once in a
hundred, and the newer context silently overwrites the older one — Recovery then never returns to
the password step. Upstream fix pending (Tishka17/aiogram_dialog#501). Ids here stay short (they
travel in callback data, 64 bytes at most): seconds since 2026 in the high bits, then a per-process
counter that starts at a random offset, so ids are unique within a process and practically unique
across replicas and restarts.
"""

from __future__ import annotations

import itertools
import secrets
import time

from aiogram_dialog.api.entities import stack

_EPOCH = 1_767_225_600  # 2026-01-01T00:00:00Z keeps the numbers, and so the ids, short
_COUNTER_BITS = 24
_counter = itertools.count(secrets.randbits(_COUNTER_BITS))


def unique_int_id() -> int:
    seconds = max(int(time.time()) - _EPOCH, 0)
    return (seconds << _COUNTER_BITS) | (next(_counter) & ((1 << _COUNTER_BITS) - 1))


def install_unique_dialog_ids() -> None:
    """Make aiogram-dialog use `unique_int_id` (idempotent; call before dialogs start)."""
    stack.new_int_id = unique_int_id
