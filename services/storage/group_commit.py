"""Group commit: work submitted while a batch runs is done together by the next batch.

The FSM writer (services/storage/fsm.py), the FSM load batcher (fsm_batching.py) and the
write-behind (write_behind.py) share this machinery. Their owner keeps the work itself (keys to
write, keys to load, operations) and gives `GroupCommit` an async callable that takes what is
queued and does it: one batch. Then:

* `schedule()` asks for a batch; one background task runs it after letting the current
  event-loop turn finish, so that everything submitted in this turn joins it. Whatever is
  submitted while a batch runs is taken by the next one. `schedule(at_once=True)` (a caller
  waits for this very work, e.g. a write-through) saves the batch due that extra turn: it
  starts as soon as the task gets the loop and the batch in flight, if any, is done.
* Every caller of one batch shares one future: `join()` returns when the batch that takes the
  caller's work (submitted before the call) is done, and raises the batch's error in each of
  them. The future's error is marked as seen, so a batch whose callers all left logs nothing.
* A caller's cancellation never cancels the batch (others wait for it): the wait is shielded.
* When the background task is cancelled (the loop shuts down, or the owner gives up with
  `cancel()`), the batch in flight and the one due are cancelled: their callers get
  `CancelledError` instead of hanging. The owner's callable sees the cancellation and decides
  what becomes of its work.

A batch that raises does not stop the task: later batches run. Its callable should leave the
work it could not do where the next batch finds it if it is to be retried.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

__all__ = ["GroupCommit", "consume_exception"]

RunBatch = Callable[[], Awaitable[Any]]


def consume_exception(future: asyncio.Future[Any]) -> None:
    """Done-callback: mark a shared future's exception as seen, whoever awaited it."""
    if not future.cancelled():
        future.exception()


class GroupCommit:
    """Runs `run_batch()` in one background task, once per batch; callers share its future."""

    __slots__ = ("_at_once", "_in_flight", "_name", "_next", "_run_batch", "_task")

    def __init__(self, run_batch: RunBatch, *, name: str = "group commit") -> None:
        self._run_batch = run_batch
        self._name = name
        self._next: asyncio.Future[None] | None = None  # the batch due: takes what is queued
        self._in_flight: asyncio.Future[None] | None = None  # the batch running
        self._task: asyncio.Task[None] | None = None
        self._at_once = False  # the batch due starts without waiting one more loop turn

    @property
    def busy(self) -> bool:
        """True while a batch runs or is due."""
        return self._task is not None

    def schedule(self, *, at_once: bool = False) -> asyncio.Future[None]:
        """Ask for a batch; the future of the batch that takes the work queued before this call.

        Called from inside `run_batch` (e.g. work left for later), it asks for another batch
        after the current one. The future is shared: await it through `join()` (shielded).
        `at_once`: the batch due skips the loop turn it would wait to gather more work.
        """
        if at_once:
            self._at_once = True
        batch = self._next
        if batch is None:
            batch = self._next = asyncio.get_running_loop().create_future()
            # Every caller may have left (been cancelled) by the time a batch fails.
            batch.add_done_callback(consume_exception)
        if self._task is None:
            task = self._task = asyncio.create_task(self._run(), name=self._name)
            task.add_done_callback(self._task_done)
        return batch

    async def join(self) -> None:
        """Return when the batch that takes the work queued before this call is done.

        Raises that batch's error. Cancelling the caller does not cancel the batch.
        """
        await asyncio.shield(self.schedule())

    async def settle(self) -> None:
        """Return when the batches due or running now are done (at once when there are none).

        Waits for the batch due if there is one (it runs after the one in flight), else for the
        one in flight, and raises its error. Batches asked for later are not waited for.
        """
        batch = self._next if self._next is not None else self._in_flight
        if batch is not None:
            await asyncio.shield(batch)

    async def cancel(self) -> None:
        """Cancel the background task and wait until it has ended (the owner gives up).

        The batch in flight and the one due are cancelled; `schedule()` starts afresh after.
        """
        task = self._task
        if task is None:
            return
        task.cancel()
        await asyncio.wait([task])  # not `await task`: our own cancellation must propagate

    async def _run(self) -> None:
        try:
            while self._next is not None:
                # One loop turn lets everything submitted right now join this batch.
                if self._at_once:
                    self._at_once = False
                else:
                    await asyncio.sleep(0)
                batch, self._next = self._next, None
                self._in_flight = batch
                try:
                    await self._run_batch()
                except Exception as error:
                    batch.set_exception(error)
                except BaseException:  # cancelled: so are the callers of this batch
                    batch.cancel()
                    raise
                else:
                    batch.set_result(None)
                finally:
                    self._in_flight = None
        except BaseException:
            self._cancel_due()  # cancelled between batches: the callers due must not hang
            raise
        finally:
            self._task = None

    def _task_done(self, task: asyncio.Task[None]) -> None:
        # A task cancelled before its first step never runs the `finally` above.
        if self._task is task:
            self._task = None
            self._cancel_due()

    def _cancel_due(self) -> None:
        self._at_once = False
        if self._next is not None:
            self._next.cancel()
            self._next = None
