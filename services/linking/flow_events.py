"""A link flow's progress, published to its owner: step changes, codes sent, refusals, the end.

Guide mode needs it: the teacher works in the e-journal's window while the bot follows her flow
from outside and helps on the screen she is on. Events are recorded in ONE place, the API's
wrapper around every flow and recovery route (services/linking/api.py): it snapshots the flow
before the route runs and compares after, so any transition — today's and those added later —
publishes itself without its own line of code. A refusal rolls its transaction back, so it is
recorded in a transaction of its own afterwards, and only for the flow's owner (a stranger's
requests are `not_found` and leave no trace in the teacher's feed).

Bounded: a flow keeps its newest `KEEP_PER_FLOW` events; events older than `MAX_AGE` go with
the hourly prune. Nothing secret is kept: no code, no password, no phone number.

Waiting: `wait_for` wakes at once when this process records an event and otherwise looks again
every `POLL_INTERVAL` seconds, so several backend processes on one database work too.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, delete, func, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.linking.codes import issued_in
from services.linking.db import execute_core, get, rows_affected, table
from services.linking.errors import DomainError, ensure_plausible_id
from services.linking.models import FlowEvent, LinkFlow
from services.linking.views import iso

KEEP_PER_FLOW = 200
MAX_AGE = timedelta(days=2)
MAX_WAIT = 25  # seconds a long-poll may hold the request
POLL_INTERVAL = 0.5
PAGE = 100

# Built once (SQLAlchemy neither builds them nor computes their cache keys per request), on the
# table (`db.execute_core`): the events' INSERT (with parameters an ORM INSERT would be a bulk
# insert of objects) and the trim after it — the seq below which a flow's events go, then the
# delete.
_EVENTS = table(FlowEvent)
_INSERT = insert(_EVENTS)
_TRIM_CUTOFF = (
    select(_EVENTS.c.seq)
    .where(_EVENTS.c.flow_id == bindparam("flow_id"))
    .order_by(_EVENTS.c.seq.desc())
    .offset(KEEP_PER_FLOW)
    .limit(1)
)
_TRIM = delete(_EVENTS).where(
    _EVENTS.c.flow_id == bindparam("flow_id"), _EVENTS.c.seq <= bindparam("cutoff")
)

# Refusals that say nothing about the teacher's progress: malformed or unauthorised requests,
# unknown ids, our own failures.
_NOT_PUBLISHED = frozenset(
    {
        "bad_request",
        "unauthorized",
        "not_found",
        "method_not_allowed",
        "payload_too_large",
        "internal",
        "flow_expired",
    }
)


@dataclass(frozen=True)
class Snapshot:
    """What the feed compares: the flow's state and scenario (a code sent shows by itself: the
    challenges the request's transaction issued, `codes.issued_in`)."""

    state: str
    scenario: str | None


class FlowEvents:
    """Record, read, prune and wait for flow events."""

    def __init__(self) -> None:
        self._changed = asyncio.Event()

    # ------------------------------------------------------------------ recording

    async def snapshot(self, session: AsyncSession, flow_id: str | None) -> Snapshot | None:
        """The flow as it is now, before a route changes it (None: no such flow)."""
        if not flow_id:
            return None
        flow = await get(session, LinkFlow, ensure_plausible_id(flow_id, "flow"))
        if flow is None:
            return None
        return Snapshot(flow.state, flow.scenario)

    async def after_step(
        self,
        session: AsyncSession,
        flow: LinkFlow,
        before: Snapshot | None,
        source: str,
        now: datetime,
    ) -> bool:
        """Record what changed since `before` (a step, a code sent); whether anything did.

        A code was sent if this request's transaction issued the flow's newest challenge and it
        is still active.
        """
        rows = []
        if before is None or before.state != flow.state or before.scenario != flow.scenario:
            data: dict[str, Any] = {"scenario": flow.scenario}
            if before is not None:
                data["from"] = before.state
            rows.append(_row(flow.id, "step", flow.state, source, data, now))
        challenge = issued_in(session, "flow", flow.id)
        if challenge is not None and challenge.status == "active":
            data = {"channel": challenge.channel}
            if challenge.resend_available_at is not None:
                data["resend_after"] = max(
                    0, int((challenge.resend_available_at - now).total_seconds())
                )
            rows.append(_row(flow.id, "code_sent", flow.state, source, data, now))
        if rows:
            await self._record(session, flow.id, rows)
        return bool(rows)

    async def refusal(
        self,
        session: AsyncSession,
        flow_id: str,
        error: DomainError,
        source: str,
        route: str,
        now: datetime,
    ) -> bool:
        """Record a refusal of the owner's request on this flow; whether it was published."""
        if error.code in _NOT_PUBLISHED:
            return False
        flow = await get(session, LinkFlow, flow_id)
        if flow is None:
            return False
        body = error.body()["error"]
        data: dict[str, Any] = {"code": error.code, "route": route}
        for key in ("attempts_left", "retry_after", "limit", "state"):
            if body.get(key) is not None:
                data[key] = body[key]
        if error.code == "wrong_state" and "profile already exists" in (error.detail or ""):
            data["profile_exists"] = True
        await self._record(
            session, flow.id, [_row(flow.id, "refusal", flow.state, source, data, now)]
        )
        return True

    async def recovery(
        self,
        session: AsyncSession,
        flow_id: str,
        recovery_state: str,
        before: str | None,
        source: str,
        now: datetime,
    ) -> bool:
        """A password recovery started from this flow moved (the window's recovery screens)."""
        if before == recovery_state:
            return False
        flow = await get(session, LinkFlow, flow_id)
        if flow is None:
            return False
        data = {"recovery_state": recovery_state}
        await self._record(
            session, flow_id, [_row(flow_id, "recovery", flow.state, source, data, now)]
        )
        return True

    async def screen(
        self, session: AsyncSession, flow: LinkFlow, screen: str, source: str, now: datetime
    ) -> bool:
        """The window reports the screen it shows; the same screen twice in a row is one event."""
        last = await session.scalar(
            select(FlowEvent)
            .where(FlowEvent.flow_id == flow.id)
            .order_by(FlowEvent.seq.desc())
            .limit(1)
        )
        if (
            last is not None
            and last.kind == "screen"
            and json.loads(last.data).get("screen") == screen
        ):
            return False
        row = _row(flow.id, "screen", flow.state, source, {"screen": screen}, now)
        await self._record(session, flow.id, [row])
        return True

    @staticmethod
    async def _record(session: AsyncSession, flow_id: str, rows: list[dict[str, Any]]) -> None:
        """Insert the flow's new events (in order) and keep its newest KEEP_PER_FLOW.

        Written at once by one INSERT of the table, not as ORM objects: nothing in the request
        reads them back as objects, and the unit of work's flush of each (with its RETURNING of
        the seq) cost more than the INSERT itself (bench/README.md, backend CPU, stop 18).
        """
        await session.execute(_INSERT, rows)
        cutoff = (await execute_core(session, _TRIM_CUTOFF, {"flow_id": flow_id})).scalar()
        if cutoff is not None:
            await execute_core(session, _TRIM, {"flow_id": flow_id, "cutoff": cutoff})

    def notify(self) -> None:
        """Wake the long-polls of this process (call after the recording transaction commits)."""
        self._changed.set()
        self._changed = asyncio.Event()

    # ------------------------------------------------------------------ reading

    @staticmethod
    async def since(session: AsyncSession, flow_id: str, after: int) -> list[dict[str, Any]]:
        """The flow's events after `after`, oldest first, at most a page."""
        rows = await session.scalars(
            select(FlowEvent)
            .where(FlowEvent.flow_id == flow_id, FlowEvent.seq > after)
            .order_by(FlowEvent.seq)
            .limit(PAGE)
        )
        return [event_view(row) for row in rows]

    @staticmethod
    async def last_seq(session: AsyncSession, flow_id: str) -> int:
        return int(
            await session.scalar(
                select(func.coalesce(func.max(FlowEvent.seq), 0)).where(
                    FlowEvent.flow_id == flow_id
                )
            )
            or 0
        )

    async def wait_for_change(self, seconds: float) -> None:
        """Sleep until this process records an event, or `seconds`."""
        changed = self._changed
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(changed.wait(), seconds)

    @staticmethod
    async def prune(session: AsyncSession, now: datetime) -> int:
        result = await session.execute(
            delete(FlowEvent)
            .where(FlowEvent.at <= now - MAX_AGE)
            .execution_options(synchronize_session=False)
        )
        return rows_affected(result)


def _row(
    flow_id: str,
    kind: str,
    state: str | None,
    source: str,
    data: dict[str, Any],
    now: datetime,
) -> dict[str, Any]:
    """One flow_events row (its seq is the database's)."""
    return {
        "flow_id": flow_id,
        "kind": kind,
        "state": state,
        "source": source,
        "data": json.dumps(data, ensure_ascii=False),
        "at": now,
    }


def event_view(row: FlowEvent) -> dict[str, Any]:
    """The Event object of the API: fixed fields plus the kind's own."""
    return {
        **json.loads(row.data or "{}"),
        "seq": row.seq,
        "kind": row.kind,
        "state": row.state,
        "source": row.source,
        "at": iso(row.at),
    }
