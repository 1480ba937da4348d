"""The group-commit primitive under the FSM writer, the FSM load batcher and the write-behind.

Batches are held open with events, never with sleeps: `Owner.gate` blocks the batch in flight
until the test opens it.
"""

from __future__ import annotations

import asyncio
import gc
from collections.abc import Sequence
from typing import Any

import pytest

from services.storage.fsm_batching import LoadBatcher
from services.storage.group_commit import GroupCommit


class Owner:
    """A user of GroupCommit: queues items, a batch takes all of them (or `limit`)."""

    def __init__(self, *, limit: int | None = None) -> None:
        self.queued: list[int] = []
        self.batches: list[list[int]] = []
        self.done: set[int] = set()
        self.started = asyncio.Event()
        self.gate: asyncio.Event | None = None
        self.fail_next: Exception | None = None
        self.cancelled: list[list[int]] = []
        self.limit = limit
        self.group = GroupCommit(self.run_batch, name="test group")

    async def submit(self, item: int) -> None:
        self.queued.append(item)
        await self.group.join()

    async def run_batch(self) -> None:
        cut = len(self.queued) if self.limit is None else self.limit
        batch, self.queued = self.queued[:cut], self.queued[cut:]
        if self.queued:
            self.group.schedule()  # the rest: the next batch
        self.batches.append(batch)
        self.started.set()
        try:
            if self.gate is not None:
                await self.gate.wait()
        except BaseException:
            self.cancelled.append(batch)
            raise
        if self.fail_next is not None:
            error, self.fail_next = self.fail_next, None
            raise error
        self.done.update(batch)


async def test_submissions_of_one_loop_turn_share_one_batch() -> None:
    owner = Owner()
    await asyncio.gather(*(owner.submit(item) for item in range(5)))
    assert owner.batches == [[0, 1, 2, 3, 4]]
    assert owner.done == {0, 1, 2, 3, 4}
    assert not owner.group.busy


async def test_a_batch_asked_for_at_once_starts_a_loop_turn_earlier() -> None:
    """Counted in loop turns, not time: the task's first step, then (unless `at_once`) the
    turn it waits to gather work."""
    for at_once, turns in ((False, 2), (True, 1)):
        owner = Owner()
        owner.queued.append(1)
        owner.group.schedule(at_once=at_once)
        for _ in range(turns - 1):
            await asyncio.sleep(0)
            assert owner.batches == []
        await asyncio.sleep(0)
        assert owner.batches == [[1]], at_once
        await owner.group.settle()
        assert not owner.group.busy


async def test_work_arriving_during_a_batch_goes_into_the_next_one_and_waits_only_for_it() -> None:
    owner = Owner()
    owner.gate = asyncio.Event()
    first = asyncio.create_task(owner.submit(1))
    await owner.started.wait()
    second = asyncio.gather(owner.submit(2), owner.submit(3))
    await asyncio.sleep(0)  # let the second wave queue (one turn, not a timing assumption)
    assert owner.queued == [2, 3] and not first.done()

    owner.gate.set()
    owner.gate = asyncio.Event()  # the next batch stays open
    await first
    assert owner.done == {1}  # returned with its own batch, the next one still running
    assert not second.done()
    owner.gate.set()
    await second
    assert owner.batches == [[1], [2, 3]]


async def test_a_failed_batch_raises_in_each_of_its_callers_and_the_next_batch_runs() -> None:
    owner = Owner()
    owner.fail_next = RuntimeError("disk full")
    results = await asyncio.gather(owner.submit(1), owner.submit(2), return_exceptions=True)
    assert [type(r) for r in results] == [RuntimeError, RuntimeError]
    assert results[0] is results[1]  # the one error of the one batch

    await owner.submit(3)
    assert owner.batches == [[1, 2], [3]] and owner.done == {3}


async def test_a_cancelled_caller_does_not_cancel_the_batch_the_others_wait_for() -> None:
    owner = Owner()
    owner.gate = asyncio.Event()
    leaving = asyncio.create_task(owner.submit(1))
    staying = asyncio.create_task(owner.submit(2))
    await owner.started.wait()

    leaving.cancel()
    with pytest.raises(asyncio.CancelledError):
        await leaving
    owner.gate.set()
    await staying
    assert owner.done == {1, 2} and owner.cancelled == []


async def test_cancelling_the_task_cancels_the_callers_of_the_batch_in_flight_and_of_the_next() -> (
    None
):
    owner = Owner()
    owner.gate = asyncio.Event()
    in_flight = asyncio.create_task(owner.submit(1))
    await owner.started.wait()
    due = asyncio.create_task(owner.submit(2))
    await asyncio.sleep(0)  # queued behind the batch in flight
    assert owner.queued == [2]

    await owner.group.cancel()

    for caller in (in_flight, due):
        with pytest.raises(asyncio.CancelledError):
            await caller
    assert owner.cancelled == [[1]] and not owner.group.busy
    # The owner still holds the work not taken; the next batch starts afresh.
    owner.gate.set()
    await owner.group.join()
    assert owner.batches == [[1], [2]] and owner.done == {2}


async def test_a_task_cancelled_before_its_first_step_leaves_no_caller_hanging() -> None:
    owner = Owner()
    owner.queued.append(1)
    owner.group.schedule()
    (task,) = [t for t in asyncio.all_tasks() if t.get_name() == "test group"]
    task.cancel()  # as the loop's shutdown does to every task, started or not

    async with asyncio.timeout(5):  # a guard against a hang, not a synchronisation
        with pytest.raises(asyncio.CancelledError):
            await owner.group.join()
    assert not owner.group.busy and owner.batches == []
    await owner.submit(2)
    assert owner.batches == [[1, 2]]


async def test_a_batch_may_leave_work_for_the_next_one() -> None:
    owner = Owner(limit=2)
    await asyncio.gather(*(owner.submit(item) for item in range(5)))
    assert owner.batches == [[0, 1], [2, 3], [4]]
    assert owner.done == {0, 1, 2, 3, 4}


async def test_settle_waits_for_the_batch_due_or_in_flight_and_not_for_later_ones() -> None:
    owner = Owner()
    await owner.group.settle()  # idle: returns at once
    assert owner.batches == []

    owner.gate = asyncio.Event()
    first = asyncio.create_task(owner.submit(1))
    await owner.started.wait()
    settling = asyncio.create_task(owner.group.settle())  # only the batch in flight
    await asyncio.sleep(0)
    assert not settling.done()
    owner.gate.set()
    await settling
    assert owner.done == {1}
    await first

    owner.gate = asyncio.Event()
    owner.started.clear()
    owner.queued.append(2)
    owner.group.schedule()
    settling = asyncio.create_task(owner.group.settle())  # the batch due (not started yet)
    await owner.started.wait()
    later = asyncio.create_task(owner.submit(3))  # asked for after settle() was
    await asyncio.sleep(0)
    owner.gate.set()
    owner.gate = asyncio.Event()  # the later batch stays open
    await settling
    assert owner.done == {1, 2} and not later.done()
    owner.gate.set()
    await later
    assert owner.batches == [[1], [2], [3]]


async def test_settle_raises_the_error_of_the_batch_it_waited_for() -> None:
    owner = Owner()
    owner.fail_next = ValueError("constraint")
    owner.queued.append(1)
    owner.group.schedule()
    with pytest.raises(ValueError, match="constraint"):
        await owner.group.settle()


async def test_a_failed_batch_nobody_waits_for_is_not_reported_as_unretrieved() -> None:
    reports: list[dict[str, Any]] = []
    loop = asyncio.get_running_loop()
    previous = loop.get_exception_handler()
    loop.set_exception_handler(lambda _, context: reports.append(context))
    try:
        owner = Owner()
        owner.fail_next = RuntimeError("nobody listens")
        owner.queued.append(1)
        owner.group.schedule()  # asked for, never awaited (a submit that does not wait)
        (task,) = [t for t in asyncio.all_tasks() if t.get_name() == "test group"]
        await asyncio.wait([task])
        assert owner.batches == [[1]] and not owner.group.busy
        del task
        gc.collect()
    finally:
        loop.set_exception_handler(previous)
    assert reports == []


async def test_the_load_batcher_splits_by_max_keys_and_a_failed_query_fails_its_readers() -> None:
    queries: list[list[str]] = []
    gate = asyncio.Event()
    querying = asyncio.Event()

    async def load_many(keys: Sequence[str]) -> dict[str, str]:
        queries.append(list(keys))
        querying.set()
        await gate.wait()
        if "bad" in keys:
            raise ConnectionError("lost")
        return {key: key.upper() for key in keys if key != "missing"}

    loads = LoadBatcher(load_many, max_keys=2)
    first = [loads.request(key) for key in ("a", "b", "c")]
    assert loads.request("a") is first[0]  # one future per key queued
    await querying.wait()  # the first query takes a and b; c is left for the next
    later = [loads.request(key) for key in ("x", "bad", "missing")]  # while the query runs
    gate.set()

    assert await asyncio.gather(*first) == ["A", "B", "C"]
    results = await asyncio.gather(*later, return_exceptions=True)
    assert queries == [["a", "b"], ["c", "x"], ["bad", "missing"]]
    assert results[0] == "X"
    assert isinstance(results[1], ConnectionError) and results[2] is results[1]
    assert await loads.request("missing") is None  # the next query runs; a missing row is None


async def test_a_load_runs_one_loop_turn_after_its_request_with_that_turns_keys() -> None:
    queries: list[list[str]] = []

    async def load_many(keys: Sequence[str]) -> dict[str, str]:
        queries.append(list(keys))
        return {}

    loads = LoadBatcher(load_many)
    futures = [loads.request(key) for key in ("a", "b")]  # one turn: one query
    await asyncio.sleep(0)  # one loop turn (counted, not timed): the query has run
    assert queries == [["a", "b"]]
    assert await asyncio.gather(*futures) == [None, None]
