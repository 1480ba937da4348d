"""Event-loop stalls in the bench process: every callback or task step that held the loop longer
than a threshold, with what ran (the task's coroutine, or the callback) and, for the long ones,
where it was (a watchdog thread samples the loop thread's stack while the step still runs).

Installed only by `scenario_bench.py --stalls MS`; `asyncio.events.Handle._run` is wrapped in
this process, and tasks are created as pure-Python tasks so a step's handle names its task.
"""

from __future__ import annotations

import asyncio
import sys
import threading
import time
import traceback
import weakref
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

_ROOT = str(Path(__file__).resolve().parents[1])


def _task_of(handle: asyncio.Handle) -> Any:
    owner = getattr(getattr(handle, "_callback", None), "__self__", None)
    return owner if isinstance(owner, asyncio.tasks._PyTask) else None  # type: ignore[attr-defined]


def _what(handle: asyncio.Handle) -> str:
    task = _task_of(handle)
    if task is not None:
        coro = task.get_coro()
        return f"task {getattr(coro, '__qualname__', type(coro).__name__)}"
    callback = getattr(handle, "_callback", None)
    return f"callback {getattr(callback, '__qualname__', repr(callback))}"


def _where(frame: Any) -> str:
    """The innermost frames of the project's own code (bot/, services/, bench/) and the frame
    that was running, as `file:line function` joined by ' < '."""
    stack = traceback.extract_stack(frame)
    ours = [f for f in stack if f.filename.startswith(_ROOT) and "/.venv/" not in f.filename]
    picked = [*ours[-3:]]
    if stack and (not picked or stack[-1] is not picked[-1]):
        picked.append(stack[-1])
    return " < ".join(f"{Path(f.filename).name}:{f.lineno} {f.name}" for f in reversed(picked))


def where_suspended(task: asyncio.Task[Any]) -> str:
    """The innermost frames of a suspended task's coroutine chain (project code first)."""
    frames = []
    awaited: Any = task.get_coro()
    while awaited is not None:  # the chain of awaits: coroutines, async generators' asend
        frame = getattr(awaited, "cr_frame", None) or getattr(awaited, "ag_frame", None)
        if frame is not None:
            frames.append(frame)
        awaited = getattr(awaited, "cr_await", None) or getattr(awaited, "ag_await", None)
    if not frames:
        return "running"
    ours = [
        f
        for f in frames
        if f.f_code.co_filename.startswith(_ROOT) and "/.venv/" not in f.f_code.co_filename
    ]
    picked = [*ours[-2:]]
    if frames[-1] not in picked:
        picked.append(frames[-1])
    return " < ".join(
        f"{Path(f.f_code.co_filename).name}:{f.f_lineno} {f.f_code.co_name}"
        for f in reversed(picked)
    )


@dataclass
class LoopStalls:
    threshold: float  # seconds
    count: int = 0
    total: float = 0.0
    longest: float = 0.0
    longest_what: str = ""
    by_what: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    where: Counter[str] = field(default_factory=Counter)
    steps: int = 0
    busy: float = 0.0
    # the loop time each task's own steps took (a reply's "work"), by task
    own: weakref.WeakKeyDictionary[Any, float] = field(default_factory=weakref.WeakKeyDictionary)
    # where updates still without a reply after 50 ms were suspended (sampled every 10 ms)
    waits: Counter[str] = field(default_factory=Counter)
    sampler: asyncio.Task[None] | None = None
    _running: tuple[float, str] | None = None
    _sampled: bool = False
    _original: Any = None
    _stop: threading.Event = field(default_factory=threading.Event)

    def install(self, loop: asyncio.AbstractEventLoop) -> None:
        stalls = self
        original = asyncio.events.Handle._run
        self._original = original
        loop_thread = threading.get_ident()

        def _run(handle: asyncio.Handle) -> None:
            started = time.perf_counter()
            stalls._running = (started, "")
            stalls._sampled = False
            try:
                original(handle)
            finally:
                took = time.perf_counter() - started
                stalls._running = None
                stalls.steps += 1
                stalls.busy += took
                task = _task_of(handle)
                if task is not None:
                    stalls.own[task] = stalls.own.get(task, 0.0) + took
                if took >= stalls.threshold:
                    what = _what(handle)
                    stalls.count += 1
                    stalls.total += took
                    stalls.by_what[what].append(took)
                    if took > stalls.longest:
                        stalls.longest, stalls.longest_what = took, what

        asyncio.events.Handle._run = _run  # type: ignore[method-assign]
        loop.set_task_factory(
            lambda loop, coro, **kw: asyncio.tasks._PyTask(coro, loop=loop, **kw)  # type: ignore[attr-defined]
        )

        def watch() -> None:
            while not self._stop.wait(self.threshold / 4):
                running = self._running
                if running is None or self._sampled:
                    continue
                if time.perf_counter() - running[0] >= self.threshold:
                    frame = sys._current_frames().get(loop_thread)
                    if frame is not None:
                        self._sampled = True
                        self.where[_where(frame)] += 1

        threading.Thread(target=watch, name="loop-stalls", daemon=True).start()

    def uninstall(self, loop: asyncio.AbstractEventLoop) -> None:
        self._stop.set()
        if self._original is not None:
            asyncio.events.Handle._run = self._original  # type: ignore[method-assign]
        loop.set_task_factory(None)

    def reset(self) -> None:
        self.count, self.total, self.longest, self.longest_what = 0, 0.0, 0.0, ""
        self.by_what.clear()
        self.where.clear()
        self.steps, self.busy = 0, 0.0
        self.waits.clear()

    def report(self, title: str, seconds: float, top: int = 12) -> None:
        ms = self.threshold * 1000
        print(
            f"\nloop stalls ≥ {ms:g} ms, {title}: {self.count} stalls, {self.total * 1000:.0f} ms"
            f" in all, longest {self.longest * 1000:.1f} ms ({self.longest_what}); the loop ran"
            f" {self.steps} steps, busy {self.busy:.2f} s of {seconds:.2f} s"
            f" ({self.busy / max(seconds, 1e-9):.0%})"
        )
        ranked = sorted(self.by_what.items(), key=lambda item: -sum(item[1]))
        print(f"  {'count':>6}{'total ms':>10}{'max ms':>9}  what ran")
        for what, values in ranked[:top]:
            total, longest = sum(values) * 1000, max(values) * 1000
            print(f"  {len(values):>6}{total:>10.0f}{longest:>9.1f}  {what}")
        if self.where:
            print(f"  where the loop thread was ≥ {ms:g} ms into a step (sampled once per stall):")
            for where, count in self.where.most_common(top):
                print(f"  {count:>6}  {where}")
        if self.waits:
            print("  where updates without a reply after 50 ms were suspended (10 ms samples):")
            for where, count in self.waits.most_common(top):
                print(f"  {count:>6}  {where}")
