"""The bot's entry points settle the garbage collector after start-up (bot/gc_tuning.py)."""

from __future__ import annotations

import gc
import weakref
from collections.abc import Iterator

import pytest

from bot.gc_tuning import GEN0_THRESHOLD, settle_after_startup


@pytest.fixture
def restored_gc() -> Iterator[None]:
    threshold = gc.get_threshold()
    try:
        yield
    finally:
        gc.unfreeze()
        gc.set_threshold(*threshold)


class Node:
    def __init__(self) -> None:
        self.other: Node | None = None


def test_startup_objects_are_frozen_and_young_threshold_raised(restored_gc: None) -> None:
    kept = Node()  # alive at start-up
    _, gen1, gen2 = gc.get_threshold()

    settle_after_startup()

    assert gc.get_freeze_count() > 0
    assert gc.get_threshold() == (GEN0_THRESHOLD, gen1, gen2)
    assert kept not in gc.get_objects()  # frozen: no generation walks it any more


def test_cycles_made_after_startup_are_still_collected(restored_gc: None) -> None:
    settle_after_startup()
    first, second = Node(), Node()
    first.other, second.other = second, first
    gone = weakref.ref(first)
    del first, second

    gc.collect()

    assert gone() is None
