"""A circuit breaker in front of the linking backend, so an outage costs the teacher no waiting.

While the backend is down every call would wait for its timeout before the teacher hears
«сервис не отвечает». After `failure_threshold` transport failures in a row (`BackendUnavailable`:
no connection, timeout, 5xx) the breaker *opens*: calls fail at once with `BackendUnavailable`, and
the dialogs show their usual «Повторить» button. After `open_for` seconds it lets ONE call through
(*half-open*): success closes it, failure opens it again for another `open_for`. A refusal by the
backend (wrong code, wrong state…) is an answer, so it counts as success.

`BreakerLinkingClient` wraps a `LinkingClient` without changing it: every coroutine method goes
through the breaker; `on_change(state)` lets metrics and health checks follow the state.
"""

from __future__ import annotations

import enum
import functools
import inspect
import logging
import time
from collections.abc import Callable
from typing import Any

from services.linking_client import BackendUnavailable, LinkingClient, LinkingError

logger = logging.getLogger(__name__)


class BreakerState(enum.StrEnum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


class CircuitBreaker:
    def __init__(
        self,
        *,
        failure_threshold: int = 5,
        open_for: float = 30.0,
        monotonic: Callable[[], float] = time.monotonic,
        on_change: Callable[[BreakerState], None] | None = None,
    ) -> None:
        if failure_threshold < 1:
            raise ValueError("failure_threshold must be >= 1")
        self.failure_threshold = failure_threshold
        self.open_for = open_for
        self._monotonic = monotonic
        self._on_change = on_change
        self.state = BreakerState.CLOSED
        self._failures = 0
        self._opened_at = 0.0
        self._probing = False
        self.rejected = 0  # calls failed fast while open (a metric hook)

    def before_call(self) -> None:
        """Raise `BackendUnavailable` at once unless a call may go to the backend now."""
        if self.state is BreakerState.CLOSED:
            return
        if self.state is BreakerState.OPEN and self._monotonic() - self._opened_at >= self.open_for:
            self._set(BreakerState.HALF_OPEN)
        if self.state is BreakerState.HALF_OPEN and not self._probing:
            self._probing = True  # this call is the probe
            return
        self.rejected += 1
        raise BackendUnavailable.because(
            "The linking service is not answering; the assistant will try again shortly."
        )

    def record_success(self) -> None:
        self._failures = 0
        self._probing = False
        if self.state is not BreakerState.CLOSED:
            logger.info("linking backend answers again: circuit closed")
            self._set(BreakerState.CLOSED)

    def record_failure(self) -> None:
        self._failures += 1
        was_probe, self._probing = self._probing, False
        if was_probe or self._failures >= self.failure_threshold:
            if self.state is not BreakerState.OPEN:
                logger.warning(
                    "linking backend unavailable (%d failures): circuit open for %.0fs",
                    self._failures,
                    self.open_for,
                )
            self._opened_at = self._monotonic()
            self._set(BreakerState.OPEN)

    def record_other(self) -> None:
        """The call ended without an answer either way (cancelled): free the probe slot."""
        self._probing = False

    def _set(self, state: BreakerState) -> None:
        if state is not self.state:
            self.state = state
            if self._on_change is not None:
                self._on_change(state)


class BreakerLinkingClient:
    """A `LinkingClient` whose calls pass through a `CircuitBreaker` (same methods)."""

    def __init__(self, client: LinkingClient, breaker: CircuitBreaker) -> None:
        self.client = client
        self.breaker = breaker

    def for_user(self, end_user_id: int | str) -> BreakerLinkingClient:
        """The client's view for one end user, behind the same breaker."""
        return BreakerLinkingClient(self.client.for_user(end_user_id), self.breaker)

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self.client, name)
        if name.startswith("_") or name == "close" or not inspect.iscoroutinefunction(attribute):
            return attribute
        breaker = self.breaker

        @functools.wraps(attribute)
        async def guarded(*args: Any, **kwargs: Any) -> Any:
            breaker.before_call()
            try:
                result = await attribute(*args, **kwargs)
            except BackendUnavailable:
                breaker.record_failure()
                raise
            except LinkingError:
                breaker.record_success()  # the backend answered (a refusal)
                raise
            except BaseException:
                breaker.record_other()
                raise
            breaker.record_success()
            return result

        return guarded
