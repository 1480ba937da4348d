"""Leases of running bot processes in the bot's database: who else is using it right now.

SQL dialog storage keeps a process-wide cache (services/storage/fsm.py) that is correct only
while one process writes the table, so a second live process on the same database must not
start. Each process registers a row and renews `seen_at` every `lease / 3`; a row not renewed
for `lease` seconds belongs to a process that is gone.

A process that was killed leaves its row behind. On restart it must not wait for it to lapse,
nor be refused by its own ghost: a row from this host whose pid is this process's pid (a
container restarted keeps its hostname and often pid 1) or whose pid no longer runs here is
taken as gone at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import async_sessionmaker

from services.storage.db import sqlite_write_lock
from services.storage.models import BotReplica

logger = logging.getLogger(__name__)

DEFAULT_LEASE = timedelta(seconds=30)


def _utcnow() -> datetime:
    return datetime.now(UTC)


def _aware(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


def pid_alive(pid: int) -> bool:
    """Whether a process with `pid` runs on this host (signal 0 probes without touching it)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # it exists, owned by someone else
        return True
    return True


@dataclass(frozen=True)
class OtherReplica:
    """A live process found on the same database."""

    instance_id: str
    host: str
    pid: int
    seen_at: datetime


class ReplicaLease:
    """This process's lease row: register, find live others, renew, release."""

    def __init__(
        self,
        session_factory: async_sessionmaker,
        *,
        lease: timedelta = DEFAULT_LEASE,
        clock: Callable[[], datetime] = _utcnow,
        host: str | None = None,
        pid: int | None = None,
        is_alive: Callable[[int], bool] = pid_alive,
    ) -> None:
        """A lease of `lease` length for this process (`host`/`pid` are injectable for tests)."""
        self._sessions = session_factory
        self._lease = lease
        self._clock = clock
        self.host = host or socket.gethostname()
        self.pid = pid if pid is not None else os.getpid()
        self._is_alive = is_alive
        self.instance_id = f"{self.host[:40]}-{self.pid}-{uuid.uuid4().hex[:8]}"
        self._renewer: asyncio.Task[None] | None = None

    async def others_alive(self) -> list[OtherReplica]:
        """Other processes whose lease is current (ghosts of this host's dead pids excluded)."""
        now = self._clock()
        async with self._sessions() as db:
            rows = list(await db.scalars(select(BotReplica)))
        alive = []
        for row in rows:
            if row.instance_id == self.instance_id:
                continue
            if now - _aware(row.seen_at) >= self._lease:
                continue
            if row.host == self.host and (row.pid == self.pid or not self._is_alive(row.pid)):
                continue
            alive.append(OtherReplica(row.instance_id, row.host, row.pid, _aware(row.seen_at)))
        return alive

    async def register(self) -> None:
        """Write this process's row and remove expired or ghost rows of others."""
        now = self._clock()
        async with self._sessions() as db, db.begin():
            for row in list(await db.scalars(select(BotReplica))):
                expired = now - _aware(row.seen_at) >= self._lease
                ghost = row.host == self.host and (
                    row.pid == self.pid or not self._is_alive(row.pid)
                )
                if expired or ghost:
                    await db.delete(row)
            db.add(
                BotReplica(
                    instance_id=self.instance_id,
                    host=self.host,
                    pid=self.pid,
                    started_at=now,
                    seen_at=now,
                )
            )

    async def renew(self) -> None:
        """Mark this process alive now."""
        # In line with this process's other SQLite writers, not in SQLite's busy handler.
        lock = sqlite_write_lock(self._sessions.kw.get("bind"))
        async with self._sessions() as db, lock, db.begin():  # closed after the lock's release
            await db.execute(
                update(BotReplica)
                .where(BotReplica.instance_id == self.instance_id)
                .values(seen_at=self._clock())
            )

    def start_renewing(self) -> None:
        """Renew every third of the lease in the background until `release`."""
        if self._renewer is None:
            self._renewer = asyncio.create_task(self._renew_forever(), name="replica lease")

    async def _renew_forever(self) -> None:
        period = self._lease.total_seconds() / 3
        while True:
            await asyncio.sleep(period)
            try:
                await self.renew()
            except Exception:  # a busy database must not stop the bot; the next turn retries
                logger.warning("replica lease not renewed", exc_info=True)

    async def release(self) -> None:
        """Stop renewing and delete this process's row (a clean shutdown)."""
        if self._renewer is not None:
            self._renewer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._renewer
            self._renewer = None
        try:
            async with self._sessions() as db, db.begin():
                await db.execute(
                    delete(BotReplica).where(BotReplica.instance_id == self.instance_id)
                )
        except Exception:
            logger.warning("replica lease not released; it lapses by itself", exc_info=True)
