"""The metrics middlewares look each labelled child up once (issue 13: per-call work)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter

from bot.observability.metrics import _Children


def test_cached_metric_children_count_like_labels() -> None:
    registry = CollectorRegistry()
    counter = Counter("calls", "Bot API calls", ["method", "outcome"], registry=registry)
    children = _Children(counter)

    children("sendMessage", "ok").inc()
    children("sendMessage", "ok").inc()
    children("sendMessage", "bad_request").inc()
    children("editMessageText", "ok").inc()

    assert children("sendMessage", "ok") is counter.labels("sendMessage", "ok")
    value = registry.get_sample_value
    assert value("calls_total", {"method": "sendMessage", "outcome": "ok"}) == 2
    assert value("calls_total", {"method": "sendMessage", "outcome": "bad_request"}) == 1
    assert value("calls_total", {"method": "editMessageText", "outcome": "ok"}) == 1
