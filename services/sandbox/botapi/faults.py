"""Fault injection: make chosen Bot API methods answer 429, 5xx or slowly, for resilience tests.

`hold(method)` is for fault tests of the bot itself: the next call of `method` waits at the door
until released and is then lost (502, never executed), like a request still on its way when its
sender died. `Hold.entered` tells the test that the bot is in the middle of an update.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass
from typing import Any, Literal

from services.sandbox.botapi.errors import BotApiError, too_many_requests

FaultKind = Literal["retry_after", "server_error", "bad_gateway", "latency"]
FAULT_KINDS: tuple[str, ...] = ("retry_after", "server_error", "bad_gateway", "latency")

# What nginx in front of Telegram answers when the backend is down: HTML, not JSON.
BAD_GATEWAY_HTML = (
    "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n"
    "<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx/1.18.0</center>\r\n"
    "</body>\r\n</html>\r\n"
)


class BadGateway(Exception):
    """Answer with a bare 502 HTML page instead of the JSON envelope."""


@dataclass
class Fault:
    """One rule: `kind` for calls of `method` ("*" = any), `times` times (None = until cleared)."""

    kind: FaultKind
    method: str = "*"
    times: int | None = 1
    retry_after: int = 1
    delay: float = 0.0
    status: int = 500

    def matches(self, method: str) -> bool:
        return (self.times is None or self.times > 0) and self.method.lower() in {"*", method}


class Hold:
    """One held call: `entered` is set when it arrives; `release()` lets it fail."""

    def __init__(self, method: str) -> None:
        self.method = method.lower()
        self.entered = asyncio.Event()
        self._released = asyncio.Event()

    def release(self) -> None:
        self._released.set()

    async def wait(self) -> None:
        self.entered.set()
        await self._released.wait()


class FaultInjector:
    """Holds the active fault rules and applies them before a method runs."""

    def __init__(self, sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep):
        self._faults: list[Fault] = []
        self._holds: list[Hold] = []
        self._sleep = sleep

    def hold(self, method: str) -> Hold:
        """Hold the next call of `method`; release every hold before the test ends."""
        hold = Hold(method)
        self._holds.append(hold)
        return hold

    def release_all(self) -> None:
        for hold in self._holds:
            hold.release()
        self._holds.clear()

    def add(self, fault: Fault) -> None:
        if fault.kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault kind {fault.kind!r}")
        self._faults.append(fault)

    def clear(self) -> None:
        self._faults.clear()

    def describe(self) -> list[dict[str, Any]]:
        return [asdict(f) for f in self._faults]

    async def apply(self, method: str) -> None:
        """Delay or refuse a call of `method` (lower-case) as the matching rules say."""
        hold = next((h for h in self._holds if h.method == method), None)
        if hold is not None:
            self._holds.remove(hold)
            await hold.wait()
            raise BadGateway()
        for fault in list(self._faults):
            if not fault.matches(method):
                continue
            if fault.times is not None:
                fault.times -= 1
                if fault.times <= 0:
                    self._faults.remove(fault)
            if fault.kind == "latency":
                await self._sleep(fault.delay)
            elif fault.kind == "retry_after":
                raise too_many_requests(fault.retry_after)
            elif fault.kind == "server_error":
                raise BotApiError(fault.status, "Internal Server Error")
            else:
                raise BadGateway()
