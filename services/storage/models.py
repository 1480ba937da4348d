"""Bot-side tables: teachers, their link sessions (where each one is), analytics events, and the
funnel's per-teacher facts derived from those events (services/analytics/facts.py)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, BigInteger, Boolean, DateTime, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from services.storage.db import Base


class Teacher(Base):
    """A Telegram user of the bot and the language she chose."""

    __tablename__ = "teachers"

    user_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    locale: Mapped[str | None] = mapped_column(String(8))
    first_name: Mapped[str | None] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class LinkSession(Base):
    """Where a teacher is in the linking, for helpdesk context cards and the resume logic.

    Never holds a password or a code: only the step, the masked phone and error codes.
    """

    __tablename__ = "link_sessions"

    user_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    chat_id: Mapped[int] = mapped_column(BigInteger)
    flow_id: Mapped[str | None] = mapped_column(String(64))
    mesh_account_id: Mapped[str | None] = mapped_column(String(64))
    teacher_name: Mapped[str | None] = mapped_column(String(256))
    scenario: Mapped[str | None] = mapped_column(String(32))  # new_profile|existing_profile|...
    step: Mapped[str | None] = mapped_column(String(64))  # state name, e.g. "Link:code"
    phone_masked: Mapped[str | None] = mapped_column(String(32))
    codes_requested: Mapped[int] = mapped_column(Integer, default=0)
    last_errors: Mapped[list] = mapped_column(JSON, default=list)  # [{"code", "step", "at"}]
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    step_entered_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class AnalyticsEvent(Base):
    """One thing that happened, for the funnel: step entered, refusal, handoff, rating, linked."""

    __tablename__ = "analytics_events"
    __table_args__ = (Index("ix_events_kind_at", "kind", "at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    user_id: Mapped[int] = mapped_column(BigInteger, index=True)
    kind: Mapped[str] = mapped_column(String(32))  # see EventKind
    scenario: Mapped[str | None] = mapped_column(String(32))
    step: Mapped[str | None] = mapped_column(String(64))
    code: Mapped[str | None] = mapped_column(String(64))  # refusal code, or rating as text
    value: Mapped[int | None] = mapped_column(Integer)  # rating 1..5


class FunnelTeacher(Base):
    """What the funnel needs to know about one teacher, over all of her events.

    Derived from `analytics_events` (services/analytics/facts.py recomputes the row from all of
    her events whenever she has new ones), so it is right whatever order events arrived in.
    A period that holds every event of hers (`first_at`..`last_at`) reads this row instead
    of her events.
    """

    __tablename__ = "funnel_teachers"
    __table_args__ = (
        Index("ix_funnel_teachers_first_at", "first_at"),
        Index("ix_funnel_teachers_last_at", "last_at"),
    )

    user_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    first_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    last_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    scenario: Mapped[str] = mapped_column(String(32))  # of her last event naming one
    started: Mapped[bool] = mapped_column(Boolean)
    linked: Mapped[bool] = mapped_column(Boolean)
    events: Mapped[int] = mapped_column(Integer)  # how many of her events the row was made from


class FunnelFact(Base):
    """One event of a teacher as the funnel counts it, with what her other events tell about
    it: her scenario, how long she stayed on the step, whether it was her first visit there.

    Rows: `step` events of teachers who started (reached, stays, positions) and every
    handoff, refusal and rating. `first_at`/`last_at` repeat her FunnelTeacher bounds so a
    report filters the rows of the teachers its period holds without a join.
    """

    __tablename__ = "funnel_facts"
    __table_args__ = (
        Index("ix_funnel_facts_user_id", "user_id"),
        # Covering indexes: a report reads its sections from them alone, the stays already
        # in the order the medians need.
        Index(
            "ix_funnel_facts_stays", "kind", "scenario", "step", "stay_us", "first_at", "last_at"
        ),
        Index(
            "ix_funnel_facts_visits",
            "kind",
            "first_visit",
            "scenario",
            "step",
            "first_at",
            "last_at",
            "position",
        ),
    )

    event_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    user_id: Mapped[int] = mapped_column(BigInteger)
    first_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    last_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    scenario: Mapped[str] = mapped_column(String(32))
    kind: Mapped[str] = mapped_column(String(32))
    step: Mapped[str | None] = mapped_column(String(64))
    stay_us: Mapped[int | None] = mapped_column(BigInteger)  # to her next move; None: none yet
    first_visit: Mapped[bool] = mapped_column(Boolean)  # her first event on this step
    position: Mapped[int | None] = mapped_column(Integer)  # first visit: steps visited before
    value: Mapped[int | None] = mapped_column(Integer)  # rating 1..5


class FunnelCount(Base):
    """The funnel facts summed per UTC day a teacher's events begin and end, and per scenario
    and step: what a report reads for the teachers whose days lie wholly in its period.

    Kept by services/analytics/facts.py as it recomputes teachers (her old rows subtracted,
    the new ones added). `section`: `teachers` (n teachers, a started, b started and linked),
    `handoff` / `refusal` / `rating` (n events, a with a value, b their sum), `visit` (n first
    visits, a their positions summed), `stay` (n stays).
    """

    __tablename__ = "funnel_counts"

    first_day: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    last_day: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    section: Mapped[str] = mapped_column(String(32), primary_key=True)
    scenario: Mapped[str] = mapped_column(String(32), primary_key=True)
    step: Mapped[str] = mapped_column(String(64), primary_key=True)  # '' for none
    n: Mapped[int] = mapped_column(BigInteger)
    a: Mapped[int] = mapped_column(BigInteger)
    b: Mapped[int] = mapped_column(BigInteger)


class FunnelFactsState(Base):
    """How far the funnel facts have read `analytics_events` (one row)."""

    __tablename__ = "funnel_facts_state"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    last_event_id: Mapped[int] = mapped_column(Integer)


class ProcessedUpdate(Base):
    """A Telegram update this bot has finished handling (its writes committed).

    Kept about a day (Telegram redelivers an unconfirmed update for at most 24 hours), so that
    an update delivered again after a crash or a restart is recognised and not handled twice.
    """

    __tablename__ = "processed_updates"

    bot_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    update_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    done_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)


class BotReplica(Base):
    """A running bot process and its last sign of life (a lease renewed while it runs).

    Lets a process refuse to start when another live one shares a database whose dialog
    storage is safe for one process only (SQL FSM storage without REDIS_URL).
    """

    __tablename__ = "bot_replicas"

    instance_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    host: Mapped[str] = mapped_column(String(255))
    pid: Mapped[int] = mapped_column(Integer)
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    seen_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
