"""Which of the client's attributes the breaker guards, decided once per class: still per instance
when the instance shadows a method with an attribute of its own."""

from __future__ import annotations

import pytest

from bot.backend_breaker import BreakerLinkingClient, CircuitBreaker
from services.linking_client import BackendUnavailable


class _Client:
    async def ping(self) -> str:
        return "pong"

    def plain(self) -> int:
        return 1


async def test_guarded_methods_and_an_instance_attribute_that_shadows_one() -> None:
    breaker = CircuitBreaker(failure_threshold=1, open_for=30.0, monotonic=lambda: 0.0)
    first = BreakerLinkingClient(_Client(), breaker)  # type: ignore[arg-type]
    assert await first.ping() == "pong"
    assert first.plain() == 1
    breaker.record_failure()  # open: a guarded call now fails at once
    with pytest.raises(BackendUnavailable):
        await BreakerLinkingClient(_Client(), breaker).ping()  # type: ignore[arg-type]
    assert first.plain() == 1  # never guarded

    shadowed = _Client()
    shadowed.ping = lambda: "plain answer"  # type: ignore[method-assign]
    assert BreakerLinkingClient(shadowed, breaker).ping() == "plain answer"  # type: ignore[arg-type]
