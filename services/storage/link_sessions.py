"""Repository of link sessions and analytics events: the dialogs write, helpdesk and /stats read."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from enum import StrEnum

from sqlalchemy import select
from sqlalchemy.ext.asyncio import async_sessionmaker

from services.storage.models import AnalyticsEvent, LinkSession, Teacher

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


class LinkSessionRepository:
    """Small, explicit writes: one short transaction each, off the per-update hot path of FSM."""

    def __init__(
        self, session_factory: async_sessionmaker, clock: Callable[[], datetime] = _utcnow
    ) -> None:
        self._sessions = session_factory
        self._clock = clock

    async def get_locale(self, user_id: int) -> str | None:
        async with self._sessions() as db:
            teacher = await db.get(Teacher, user_id)
            return teacher.locale if teacher else None

    async def set_locale(self, user_id: int, locale: str, first_name: str | None = None) -> None:
        async with self._sessions.begin() as db:
            teacher = await db.get(Teacher, user_id)
            if teacher is None:
                db.add(
                    Teacher(
                        user_id=user_id,
                        locale=locale,
                        first_name=first_name,
                        created_at=self._clock(),
                    )
                )
            else:
                teacher.locale = locale

    async def get(self, user_id: int) -> LinkSession | None:
        async with self._sessions() as db:
            return await db.get(LinkSession, user_id)

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
        """Start (or restart) the record for a teacher who opened the assistant with a token."""
        now = self._clock()
        async with self._sessions.begin() as db:
            record = await db.get(LinkSession, user_id)
            if record is None:
                record = LinkSession(user_id=user_id)
                db.add(record)
            record.chat_id = chat_id
            record.flow_id = flow_id
            record.mesh_account_id = mesh_account_id
            record.teacher_name = teacher_name
            record.scenario = None
            record.step = step
            record.phone_masked = None
            record.codes_requested = 0
            record.last_errors = []
            record.started_at = now
            record.step_entered_at = now
            record.updated_at = now
            db.add(AnalyticsEvent(at=now, user_id=user_id, kind=EventKind.STARTED, step=step))

    async def enter_step(
        self,
        user_id: int,
        step: str,
        *,
        scenario: str | None = None,
        phone_masked: str | None = None,
    ) -> None:
        """Record that the teacher now sees `step` (no-op when she is already there)."""
        now = self._clock()
        async with self._sessions.begin() as db:
            record = await db.get(LinkSession, user_id)
            if record is None:
                return
            if scenario is not None:
                record.scenario = scenario
            if phone_masked is not None:
                record.phone_masked = phone_masked
            if record.step == step:
                record.updated_at = now
                return
            record.step = step
            record.step_entered_at = now
            record.updated_at = now
            db.add(
                AnalyticsEvent(
                    at=now,
                    user_id=user_id,
                    kind=EventKind.STEP,
                    scenario=record.scenario,
                    step=step,
                )
            )

    async def code_requested(self, user_id: int) -> None:
        async with self._sessions.begin() as db:
            record = await db.get(LinkSession, user_id)
            if record is not None:
                record.codes_requested += 1
                record.updated_at = self._clock()

    async def record_refusal(self, user_id: int, code: str, step: str | None = None) -> None:
        """Remember a backend refusal for the context card and count it in the funnel."""
        now = self._clock()
        async with self._sessions.begin() as db:
            record = await db.get(LinkSession, user_id)
            scenario = None
            if record is not None:
                step = step or record.step
                scenario = record.scenario
                errors = [*record.last_errors, {"code": code, "step": step, "at": now.isoformat()}]
                record.last_errors = errors[-MAX_REMEMBERED_ERRORS:]
                record.updated_at = now
            db.add(
                AnalyticsEvent(
                    at=now,
                    user_id=user_id,
                    kind=EventKind.REFUSAL,
                    scenario=scenario,
                    step=step,
                    code=code,
                )
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
        now = self._clock()
        async with self._sessions.begin() as db:
            record = await db.get(LinkSession, user_id)
            scenario = record.scenario if record else None
            step = step or (record.step if record else None)
            db.add(
                AnalyticsEvent(
                    at=now,
                    user_id=user_id,
                    kind=kind,
                    scenario=scenario,
                    step=step,
                    code=code,
                    value=value,
                )
            )

    async def events(self, since: datetime, until: datetime) -> list[AnalyticsEvent]:
        async with self._sessions() as db:
            rows = await db.scalars(
                select(AnalyticsEvent)
                .where(AnalyticsEvent.at >= since, AnalyticsEvent.at < until)
                .order_by(AnalyticsEvent.at, AnalyticsEvent.id)
            )
            return list(rows)
