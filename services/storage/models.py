"""Bot-side tables: teachers, their link sessions (where each one is), analytics events."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, BigInteger, DateTime, Index, Integer, String
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
