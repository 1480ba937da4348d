"""Refuse to start a second bot process on a database meant for one (no REDIS_URL).

Without REDIS_URL the dialog state lives in the SQL database behind a per-process cache
(services/storage/fsm.py), and de-duplication, throttling and pacing live in the process: two
processes on one database would serve teachers stale steps and handle updates twice. So each
process holds a lease row (services/storage/replicas.py); a process that finds another live lease
refuses to start and says what to do. With REDIS_URL every cross-replica structure is shared and
any number of replicas may run.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import async_sessionmaker

from services.storage.replicas import OtherReplica, ReplicaLease


class ReplicaConflict(RuntimeError):
    """Another live bot process uses this database and REDIS_URL is not set."""


def conflict_message(others: list[OtherReplica], now: datetime) -> str:
    seen = "; ".join(
        f"host {o.host}, pid {o.pid}, last seen {max(0, int((now - o.seen_at).total_seconds()))}s "
        "ago"
        for o in others
    )
    return (
        f"Another bot process is already using this database ({seen}). Without REDIS_URL the "
        "dialog state, de-duplication, throttling and helpdesk pacing are kept for ONE process "
        "only, so a second one would show teachers stale steps and handle updates twice. Run a "
        "single replica, or set REDIS_URL to run several (docs/delivery.md, «Replicas»). If "
        "that process was just killed on another host, its lease lapses within 30 seconds."
    )


async def hold_single_replica_lease(
    session_factory: async_sessionmaker, lease: ReplicaLease | None = None
) -> ReplicaLease:
    """Take this process's lease, or raise `ReplicaConflict` when another process holds one."""
    lease = lease or ReplicaLease(session_factory)
    await lease.register()
    others = await lease.others_alive()
    if others:
        await lease.release()
        raise ReplicaConflict(conflict_message(others, datetime.now(UTC)))
    lease.start_renewing()
    return lease
