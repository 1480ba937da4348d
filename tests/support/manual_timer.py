"""Time for background tasks that tests drive: `sleep` waits until the test passes time.

    timer = ManualTimer(clock)
    ticker = CountdownTicker(..., sleep=timer.sleep)
    seconds = await timer.next_sleep()   # a task went to sleep for that long
    await timer.wake()                   # the clock moves to the earliest wake-up; those run

Nothing waits on the wall clock: a task sleeping here stays asleep until woken, and tasks due
at the same moment wake together.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import datetime, timedelta

from services.clock import FakeClock


@dataclass
class _Sleeper:
    seconds: float
    due: datetime
    future: asyncio.Future[None]


class ManualTimer:
    def __init__(self, clock: FakeClock) -> None:
        self._clock = clock
        self._sleepers: list[_Sleeper] = []
        self._changed = asyncio.Event()

    async def sleep(self, seconds: float) -> None:
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        due = self._clock.now() + timedelta(seconds=seconds)
        self._sleepers.append(_Sleeper(seconds, due, future))
        self._changed.set()
        try:
            await future
        finally:
            self._sleepers = [s for s in self._sleepers if s.future is not future]

    @property
    def asleep(self) -> list[float]:
        """How long each sleeping task asked to sleep, in the order they fell asleep."""
        return [s.seconds for s in self._sleepers if not s.future.done()]

    async def next_sleep(self, count: int = 1) -> float:
        """Wait until `count` tasks are asleep; how long the first one asked for."""
        while len(self.asleep) < count:
            self._changed.clear()
            await self._changed.wait()
        return self.asleep[0]

    async def wake(self) -> None:
        """Move the clock to the earliest wake-up and wake every task due then."""
        sleeping = [s for s in self._sleepers if not s.future.done()]
        due = min(s.due for s in sleeping)
        if due > self._clock.now():
            self._clock.advance((due - self._clock.now()).total_seconds())
        self._changed.clear()
        for sleeper in sleeping:
            if sleeper.due <= due:
                sleeper.future.set_result(None)
        await asyncio.sleep(0)  # let them start running before the test looks again
