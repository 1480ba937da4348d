"""Repository of link sessions and analytics events: the dialogs write, helpdesk and /stats read.

Writes are write-behind (services/storage/write_behind.py): a call queues its change and returns;
the changes of many updates are committed together, one transaction per batch. Every read method
first waits for the writes queued before it, so readers (the helpdesk context card, /stats,
tests) see exactly what they saw when each call had its own transaction. Every write is Core
statements built once at import, keyed by the teacher (so the writer may put the same statement
of many teachers into one executemany): `enter_step` (an INSERT … SELECT of the step event and
an UPDATE), `code_requested`, `switch_flow` and `record_event` (an INSERT … SELECT reading her
scenario and step) are single statements that read nothing back into Python; `begin` and
`set_locale` are upserts; only `record_refusal` reads her row (to append to her last errors).

Two writes are written through instead (they return once committed, or raise `WriteDelayed`
while the database is away, so that the caller decides: the language choice tells her to try
again, /start greets her anyway — the write stays queued and lands): the language she chose
(`set_locale`) and the start of her link session (`begin`).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from enum import StrEnum

from sqlalchemy import (
    DateTime,
    Integer,
    String,
    bindparam,
    case,
    func,
    insert,
    literal,
    or_,
    select,
    update,
)
from sqlalchemy.ext.asyncio import AsyncConnection, async_sessionmaker

from services.storage.db import table_of
from services.storage.models import AnalyticsEvent, LinkSession, Teacher
from services.storage.sql_text import typed_text
from services.storage.sqlite_one_hop import off_the_loop
from services.storage.write_behind import WriteBehind, WritesBehind

MAX_REMEMBERED_ERRORS = 5


class EventKind(StrEnum):
    STARTED = "started"  # a link dialog began (token redeemed)
    STEP = "step"  # a step was entered
    REFUSAL = "refusal"  # the backend refused something (code = error code)
    LINKED = "linked"  # the account was linked
    HANDOFF = "handoff"  # a ticket was opened
    RATING = "rating"  # CSAT given (value = 1..5)


def _utcnow() -> datetime:
    return datetime.now(UTC)


_sessions_table = table_of(LinkSession)
_events_table = table_of(AnalyticsEvent)
_now = bindparam("p_now", type_=DateTime(timezone=True))
_user = bindparam("p_user", type_=_sessions_table.c.user_id.type)
_step = bindparam("p_step", type_=String(64))
_scenario = bindparam("p_scenario", type_=String(32))
_phone = bindparam("p_phone", type_=String(32))

# enter_step, part 1: a "step" event when the teacher has a record and was on another step.
# Runs before part 2, which moves her there (the scenario given wins over the stored one).
_STEP_EVENT = insert(_events_table).from_select(
    ["at", "user_id", "kind", "scenario", "step"],
    select(
        _now,
        _sessions_table.c.user_id,
        literal(EventKind.STEP.value, String(32)),
        func.coalesce(_scenario, _sessions_table.c.scenario),
        _step,
    ).where(
        _sessions_table.c.user_id == _user,
        or_(_sessions_table.c.step.is_(None), _sessions_table.c.step != _step),
    ),
)
# enter_step, part 2 (SET expressions see the row as it was before the statement).
_ENTER_STEP = (
    update(_sessions_table)
    .where(_sessions_table.c.user_id == _user)
    .values(
        scenario=func.coalesce(_scenario, _sessions_table.c.scenario),
        phone_masked=func.coalesce(_phone, _sessions_table.c.phone_masked),
        step_entered_at=case(
            (_sessions_table.c.step == _step, _sessions_table.c.step_entered_at), else_=_now
        ),
        step=_step,
        updated_at=_now,
    )
)
_CODE_REQUESTED = (
    update(_sessions_table)
    .where(_sessions_table.c.user_id == _user)
    .values(codes_requested=_sessions_table.c.codes_requested + 1, updated_at=_now)
)

# The other writes, built once as well (bench/README.md, stop 19: the bot's own SQL): no ORM
# object loaded, flushed or identity-mapped, no statement built or cache key computed per call.
_teachers_table = table_of(Teacher)
_kind = bindparam("p_kind", type_=String(32))
_code = bindparam("p_code", type_=String(64))
_value = bindparam("p_value", type_=Integer())
_flow = bindparam("p_flow", type_=String(64))
_now_column_type = _sessions_table.c.updated_at.type


def _of_her_session(column):  # type: ignore[no-untyped-def]
    """Her link session's `column` (NULL when she has none), as a scalar subquery."""
    return select(column).where(_sessions_table.c.user_id == _user).scalar_subquery()


# record_event: her current scenario and (unless given) step are read by the INSERT itself.
_RECORD_EVENT = insert(_events_table).from_select(
    ["at", "user_id", "kind", "scenario", "step", "code", "value"],
    select(
        _now,
        _user,
        _kind,
        _of_her_session(_sessions_table.c.scenario),
        func.coalesce(_step, _of_her_session(_sessions_table.c.step)),
        _code,
        _value,
    ),
)
# An event whose every value is known (begin's "started", a refusal's).
_EVENT = insert(_events_table).values(
    at=_now, user_id=_user, kind=_kind, scenario=_scenario, step=_step, code=_code
)
# begin: her record made afresh, or started again (one upsert, written out: SQLAlchemy's SQLite
# and PostgreSQL `on_conflict_do_update` have no cache key; both spell this upsert alike).
_BEGIN = typed_text(
    "INSERT INTO link_sessions (user_id, chat_id, flow_id, mesh_account_id, teacher_name,"
    " scenario, step, phone_masked, codes_requested, last_errors, started_at, step_entered_at,"
    " updated_at)"
    " VALUES (:p_user, :p_chat, :p_flow, :p_mesh, :p_name, NULL, :p_step, NULL, 0, '[]',"
    " :p_now, :p_now, :p_now)"
    " ON CONFLICT (user_id) DO UPDATE SET chat_id = excluded.chat_id,"
    " flow_id = excluded.flow_id, mesh_account_id = excluded.mesh_account_id,"
    " teacher_name = excluded.teacher_name, scenario = NULL, step = excluded.step,"
    " phone_masked = NULL, codes_requested = 0, last_errors = excluded.last_errors,"
    " started_at = excluded.started_at, step_entered_at = excluded.step_entered_at,"
    " updated_at = excluded.updated_at",
    p_user=_sessions_table.c.user_id.type,
    p_chat=_sessions_table.c.chat_id.type,
    p_flow=_sessions_table.c.flow_id.type,
    p_mesh=_sessions_table.c.mesh_account_id.type,
    p_name=_sessions_table.c.teacher_name.type,
    p_step=_sessions_table.c.step.type,
    p_now=_now_column_type,
)
_SWITCH_FLOW = (
    update(_sessions_table)
    .where(_sessions_table.c.user_id == _user)
    .values(flow_id=_flow, scenario=None, phone_masked=None, updated_at=_now)
)
_REFUSAL_READ = select(
    _sessions_table.c.step, _sessions_table.c.scenario, _sessions_table.c.last_errors
).where(_sessions_table.c.user_id == _user)
_SET_ERRORS = (
    update(_sessions_table)
    .where(_sessions_table.c.user_id == _user)
    .values(
        last_errors=bindparam("p_errors", type_=_sessions_table.c.last_errors.type),
        updated_at=_now,
    )
)
# set_locale: her language; a new teacher's row is made (her name and first moment kept).
_SET_LOCALE = typed_text(
    "INSERT INTO teachers (user_id, locale, first_name, created_at)"
    " VALUES (:p_user, :p_locale, :p_first_name, :p_now)"
    " ON CONFLICT (user_id) DO UPDATE SET locale = excluded.locale",
    p_user=_teachers_table.c.user_id.type,
    p_locale=_teachers_table.c.locale.type,
    p_first_name=_teachers_table.c.first_name.type,
    p_now=_teachers_table.c.created_at.type,
)
_LOCALE = select(_teachers_table.c.locale).where(_teachers_table.c.user_id == _user)


class LinkSessionRepository(WritesBehind):
    """Write-behind writes (one transaction per batch of calls), reads that see them all."""

    def __init__(
        self,
        session_factory: async_sessionmaker,
        clock: Callable[[], datetime] = _utcnow,
        *,
        writer: WriteBehind | None = None,
    ) -> None:
        """Repository on `session_factory`; `writer` may be shared with other stores of the
        same database (one transaction for all of them), else the repository owns one."""
        self._sessions = session_factory
        self._clock = clock
        self._use_writer(session_factory, writer, "link-sessions")

    @property
    def session_factory(self) -> async_sessionmaker:
        """Sessions on the same database, for reports (flush `writer` before reading)."""
        return self._sessions

    # --- reads: each one waits for the writes made before it --------------------------------

    async def get_locale(self, user_id: int) -> str | None:
        await self.writer.flush(order_key=user_id)  # her writes only (they carry her key)
        async with self._sessions() as db:
            locale: str | None = await db.scalar(_LOCALE, {"p_user": user_id})
            return locale

    async def get(self, user_id: int) -> LinkSession | None:
        await self.writer.flush(order_key=user_id)
        async with self._sessions() as db:
            return await db.get(LinkSession, user_id)

    async def events(self, since: datetime, until: datetime) -> list[AnalyticsEvent]:
        await self.writer.flush()
        with off_the_loop():  # every event of the period: not in the event loop's thread
            return await self._events(since, until)

    async def _events(self, since: datetime, until: datetime) -> list[AnalyticsEvent]:
        async with self._sessions() as db:
            rows = await db.scalars(
                select(AnalyticsEvent)
                .where(AnalyticsEvent.at >= since, AnalyticsEvent.at < until)
                .order_by(AnalyticsEvent.at, AnalyticsEvent.id)
            )
            return list(rows)

    async def linked_per_scenario(self) -> dict[str, int]:
        """Teachers ever linked, by scenario (`unknown` when none was recorded)."""
        await self.writer.flush()
        scenario = func.coalesce(AnalyticsEvent.scenario, "unknown")
        # Counts over every linked teacher: not in the event loop's thread.
        with off_the_loop():
            async with self._sessions() as db:
                rows = await db.execute(
                    select(scenario, func.count(func.distinct(AnalyticsEvent.user_id)))
                    .where(AnalyticsEvent.kind == EventKind.LINKED.value)
                    .group_by(scenario)
                )
                return {name: count for name, count in rows.tuples()}

    # --- writes -------------------------------------------------------------------------------

    async def set_locale(self, user_id: int, locale: str, first_name: str | None = None) -> None:
        """Remember the teacher's language; returns once it is committed (write-through)."""
        params = {
            "p_user": user_id,
            "p_locale": locale,
            "p_first_name": first_name,
            "p_now": self._clock(),
        }
        await self.writer.submit(
            _SET_LOCALE, params, order_key=user_id, label=f"set_locale user {user_id}", wait=True
        )

    async def begin(
        self,
        *,
        user_id: int,
        chat_id: int,
        flow_id: str | None,
        mesh_account_id: str | None,
        teacher_name: str | None,
        step: str,
    ) -> None:
        """Start (or restart) the record for a teacher who opened the assistant with a token.

        Written through: returns once committed."""
        params = {
            "p_user": user_id,
            "p_chat": chat_id,
            "p_flow": flow_id,
            "p_mesh": mesh_account_id,
            "p_name": teacher_name,
            "p_step": step,
            "p_now": self._clock(),
            "p_kind": EventKind.STARTED.value,
            "p_scenario": None,
            "p_code": None,
        }

        async def write(connection: AsyncConnection) -> None:  # both or neither: one op
            await connection.execute(_BEGIN, params)
            await connection.execute(_EVENT, params)

        await self.writer.submit(write, order_key=user_id, label=f"begin user {user_id}", wait=True)

    async def switch_flow(self, user_id: int, flow_id: str) -> None:
        """«Начать заново»: the record follows the fresh flow that replaced the old one.

        The scenario and the number are decided again; the counts and the last errors stay,
        for the helpdesk's context card. Nothing happens for a teacher without a record."""
        params = {"p_user": user_id, "p_flow": flow_id, "p_now": self._clock()}
        await self.writer.submit(
            _SWITCH_FLOW, params, order_key=user_id, label=f"switch_flow user {user_id}"
        )

    async def enter_step(
        self,
        user_id: int,
        step: str,
        *,
        scenario: str | None = None,
        phone_masked: str | None = None,
    ) -> None:
        """Record that the teacher now sees `step` (only `updated_at` when she already does).

        Nothing happens for a teacher without a record (no `begin` yet).
        """
        params = {
            "p_now": self._clock(),
            "p_user": user_id,
            "p_step": step,
            "p_scenario": scenario,
            "p_phone": phone_masked,
        }
        label = f"enter_step user {user_id}"
        await self.writer.submit(_STEP_EVENT, params, order_key=user_id, label=label)
        await self.writer.submit(_ENTER_STEP, params, order_key=user_id, label=label)

    async def code_requested(self, user_id: int) -> None:
        """Count one more confirmation code sent to the teacher."""
        params = {"p_now": self._clock(), "p_user": user_id}
        await self.writer.submit(
            _CODE_REQUESTED, params, order_key=user_id, label=f"code_requested user {user_id}"
        )

    async def record_refusal(self, user_id: int, code: str, step: str | None = None) -> None:
        """Remember a backend refusal for the context card and count it in the funnel."""
        now = self._clock()

        async def write(connection: AsyncConnection) -> None:
            record = (await connection.execute(_REFUSAL_READ, {"p_user": user_id})).first()
            scenario = None
            at_step = step
            if record is not None:
                at_step = step or record.step
                scenario = record.scenario
                errors = [
                    *(record.last_errors or []),
                    {"code": code, "step": at_step, "at": now.isoformat()},
                ]
                await connection.execute(
                    _SET_ERRORS,
                    {"p_user": user_id, "p_errors": errors[-MAX_REMEMBERED_ERRORS:], "p_now": now},
                )
            event = {
                "p_now": now,
                "p_user": user_id,
                "p_kind": EventKind.REFUSAL.value,
                "p_scenario": scenario,
                "p_step": at_step,
                "p_code": code,
            }
            await connection.execute(_EVENT, event)

        await self.writer.submit(
            write, order_key=user_id, label=f"record_refusal user {user_id} code {code}"
        )

    async def record_event(
        self,
        user_id: int,
        kind: EventKind,
        *,
        step: str | None = None,
        code: str | None = None,
        value: int | None = None,
    ) -> None:
        """Record a linked / handoff / rating event against the teacher's current scenario."""
        params = {
            "p_now": self._clock(),
            "p_user": user_id,
            "p_kind": str(kind),
            "p_step": step or None,  # none given: her current step
            "p_code": code,
            "p_value": value,
        }
        await self.writer.submit(
            _RECORD_EVENT, params, order_key=user_id, label=f"record_event {kind} user {user_id}"
        )
