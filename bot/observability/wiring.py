"""Connects the runtime's parts to metrics and readiness (called by bot.app.build_runtime)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from aiogram.fsm.storage.base import BaseStorage
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.observability.health import Check, backend_check, database_check, redis_check
from bot.observability.metrics import BotMetrics
from services.linking_client import LinkingClient
from services.storage.link_sessions import LinkSessionRepository
from services.storage.write_behind import WriteBehind


def _depth_of(writer: WriteBehind) -> Callable[[], int]:
    return lambda: writer.pending


def readiness_checks(
    engine: AsyncEngine, storage: BaseStorage, linking: LinkingClient
) -> dict[str, Check]:
    """Database and backend always; Redis when the FSM storage lives there."""
    checks = {"database": database_check(engine), "backend": backend_check(linking)}
    redis = getattr(storage, "redis", None)
    if redis is not None:
        checks["redis"] = redis_check(redis)
    return checks


def export_runtime_gauges(
    metrics: BotMetrics, *, sessions: LinkSessionRepository, helpdesk: Any
) -> None:
    """Write-behind queue depths, open tickets and teachers linked per scenario."""
    writers = {id(sessions.writer): ("link-sessions", sessions.writer)}
    transcript = getattr(helpdesk, "transcript", None)
    if transcript is not None:
        writers.setdefault(id(transcript.writer), ("transcript", transcript.writer))
    for name, writer in writers.values():
        metrics.watch_queue(name, _depth_of(writer))
        metrics.hooks.writers[name] = writer
    metrics.hooks.outbox = getattr(helpdesk, "outbox", None)

    async def linked() -> None:
        for scenario, count in (await sessions.linked_per_scenario()).items():
            metrics.linked.labels(scenario).set(count)

    metrics.add_refresher(linked)
    tickets = getattr(helpdesk, "tickets", None)
    if tickets is not None:

        async def open_tickets() -> None:
            metrics.open_tickets.set(await tickets.count_open())

        metrics.add_refresher(open_tickets)
