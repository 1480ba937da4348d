"""Personal data has a lifetime: a periodic job of the bot process deletes what outlived it.

- Transcript lines (the helpdesk's context cards) older than `TRANSCRIPT_RETENTION_DAYS` (30).
- Dialog records of the SQL storage not written for `DIALOG_RETENTION_DAYS` (7): a dialog
  abandoned that long, names, phone and step included. With REDIS_URL the dialog records carry
  the same lifetime as a Redis TTL instead (`create_storage` in bot/app.py), so Redis needs no job.

A run is DELETEs by age only, so it is idempotent: replicas running it at the same time merely
repeat one another. With Redis a gate (`SET NX PX`, bot/shared_state/once.py) still lets one
replica per interval do the work. A failed run is logged and the next interval tries again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import async_sessionmaker

from bot.shared_state.once import OncePerWindow
from services.helpdesk.transcript import prune_transcripts
from services.storage.sqlite_one_hop import off_the_loop

logger = logging.getLogger(__name__)

GATE = "retention"


@dataclass(frozen=True)
class Pruned:
    """What one run deleted."""

    transcript_lines: int = 0
    dialog_records: int = 0


class RetentionJob:
    """Deletes expired transcripts and abandoned dialog records: now, or every `interval`."""

    def __init__(
        self,
        session_factory: async_sessionmaker,
        storage: Any,
        now: Callable[[], datetime],
        *,
        transcripts: timedelta,
        dialogs: timedelta,
        interval: float,
        gate: OncePerWindow | None = None,
        sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep,
    ) -> None:
        """`storage` is the FSM storage: pruned when it is the SQL one (`prune(before)`).

        `gate` lets one replica of several run per interval; `sleep` is injectable for tests.
        """
        self._sessions = session_factory
        self._storage = storage
        self._now = now
        self.transcripts = transcripts
        self.dialogs = dialogs
        self.interval = interval
        self._gate = gate
        self._sleep = sleep
        self._task: asyncio.Task[None] | None = None
        self.deleted = {"transcript_lines": 0, "dialog_records": 0}  # totals (a metric hook)

    async def run_once(self) -> Pruned:
        """Delete everything past its retention as of now."""
        now = self._now()
        # Sweeps over many rows: in the database's own thread, not the event loop's.
        with off_the_loop():
            lines = await prune_transcripts(self._sessions, now - self.transcripts)
            records = 0
            prune = getattr(self._storage, "prune", None)
            if prune is not None:
                records = await prune(now - self.dialogs)
        self.deleted["transcript_lines"] += lines
        self.deleted["dialog_records"] += records
        if lines or records:
            logger.info(
                "retention: %d transcript lines and %d dialog records deleted", lines, records
            )
        return Pruned(lines, records)

    def start(self) -> None:
        """Run now, then every `interval` seconds, in the background until `close`."""
        if self._task is None:
            self._task = asyncio.create_task(self._run_forever(), name="retention")

    async def _run_forever(self) -> None:
        while True:
            try:
                if self._gate is None or await self._gate.first(GATE):
                    await self.run_once()
            except Exception:  # a busy database must not stop the bot; the next turn retries
                logger.warning(
                    "retention: run failed; next in %.0f s", self.interval, exc_info=True
                )
            await self._sleep(self.interval)

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
