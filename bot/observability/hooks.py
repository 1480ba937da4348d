"""The delivery machinery's own counters, exported as they are at scrape time.

De-duplication, the write-behind queues, the committer, the circuit breaker, the admin alerts,
the helpdesk outbox, the polling loop and the retention job each count what they do in plain
attributes (docs/delivery.md, «Hooks for metrics and health»); this collector reads them when
/metrics is scraped, so none of them needs to know about Prometheus. The counters are per
process, like every counter of bot/observability/metrics.py: Prometheus sums the replicas.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

PREFIX = "sferum_bot"
BREAKER_STATES = ("closed", "open", "half_open")


class DeliveryCollector(Collector):
    """Reads the registered objects' counters at each scrape; an absent one exports nothing."""

    def __init__(self) -> None:
        self.dedup: Any = None  # UpdateDeduplicationMiddleware: .skipped
        self.writers: dict[str, Any] = {}  # name → WriteBehind: .retries, .failed, .retrying
        self.commit: Any = None  # Committer: .retries
        self.breaker: Any = None  # CircuitBreaker: .state, .rejected
        self.alerts: Any = None  # AdminAlerts: .sent
        self.outbox: Any = None  # Outbox: .chats_waiting
        self.poller: Any = None  # UpdatePoller: .batches, .fetch_failures
        self.retention: Any = None  # RetentionJob: .deleted

    def describe(self) -> list[Metric]:
        return []  # names depend on what is registered; collect() is cheap

    def collect(self) -> Iterator[Metric]:
        if self.dedup is not None:
            yield _counter(
                "updates_deduplicated",
                "Updates delivered again and skipped because they were already handled",
                self.dedup.skipped,
            )
        if self.writers:
            retries = CounterMetricFamily(
                f"{PREFIX}_write_behind_retries",
                "Write-behind batches retried because the database was busy or away",
                labels=["writer"],
            )
            dropped = CounterMetricFamily(
                f"{PREFIX}_write_behind_dropped",
                "Write-behind operations dropped because they failed on their own (logged)",
                labels=["writer"],
            )
            retrying = GaugeMetricFamily(
                f"{PREFIX}_write_behind_retrying",
                "1 while a write-behind queue waits for the database",
                labels=["writer"],
            )
            for name, writer in self.writers.items():
                retries.add_metric([name], writer.retries)
                dropped.add_metric([name], writer.failed)
                retrying.add_metric([name], 1 if writer.retrying else 0)
            yield from (retries, dropped, retrying)
        if self.commit is not None:
            yield _counter(
                "commit_retries",
                "Commits before confirming updates that had to wait for the database",
                self.commit.retries,
            )
        if self.breaker is not None:
            state = GaugeMetricFamily(
                f"{PREFIX}_backend_circuit_state",
                "The linking backend's circuit breaker: 1 for its current state",
                labels=["state"],
            )
            for name in BREAKER_STATES:
                state.add_metric([name], 1 if str(self.breaker.state) == name else 0)
            yield state
            yield _counter(
                "backend_calls_rejected",
                "Backend calls failed at once because the circuit was open",
                self.breaker.rejected,
            )
        if self.alerts is not None:
            yield _counter(
                "admin_alerts",
                "Alerts about failed updates sent to the admins (at most one a minute)",
                self.alerts.sent,
            )
        if self.outbox is not None:
            yield GaugeMetricFamily(
                f"{PREFIX}_helpdesk_chats_waiting",
                "Chats with helpdesk messages queued for Telegram's limits",
                value=self.outbox.chats_waiting,
            )
        if self.poller is not None:
            yield _counter("polling_batches", "getUpdates batches handled", self.poller.batches)
            yield _counter(
                "polling_fetch_failures",
                "getUpdates calls that failed (retried with backoff)",
                self.poller.fetch_failures,
            )
        if self.retention is not None:
            deleted = CounterMetricFamily(
                f"{PREFIX}_retention_deleted",
                "Personal data deleted after its retention, by kind",
                labels=["kind"],
            )
            for kind, count in self.retention.deleted.items():
                deleted.add_metric([kind], count)
            yield deleted


def _counter(name: str, documentation: str, value: float) -> CounterMetricFamily:
    return CounterMetricFamily(f"{PREFIX}_{name}", documentation, value=value)
