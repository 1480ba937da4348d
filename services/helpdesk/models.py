"""Helpdesk tables: tickets, the log of what was relayed, the teacher's recent transcript."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from services.storage.db import Base

OPEN = "open"
CLOSED = "closed"

_ONLY_OPEN = text("status = 'open'")


class Ticket(Base):
    """One handoff of a teacher to the helpdesk; its id is the ticket number operators see."""

    __tablename__ = "helpdesk_tickets"
    __table_args__ = (
        # At most one open ticket per teacher, enforced by the database itself: a burst of first
        # messages, two bot processes or a restart in the middle can never open a second one.
        Index(
            "uq_helpdesk_open_ticket_per_user",
            "user_id",
            unique=True,
            sqlite_where=_ONLY_OPEN,
            postgresql_where=_ONLY_OPEN,
        ),
        Index("ix_helpdesk_tickets_thread", "helpdesk_chat_id", "thread_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    user_id: Mapped[int] = mapped_column(BigInteger, index=True)
    chat_id: Mapped[int] = mapped_column(BigInteger)  # the teacher's private chat
    teacher_name: Mapped[str] = mapped_column(String(256))
    telegram_name: Mapped[str | None] = mapped_column(String(256))  # «Мария @maria» in Telegram
    locale: Mapped[str | None] = mapped_column(String(8))
    scenario: Mapped[str | None] = mapped_column(String(32))
    step: Mapped[str | None] = mapped_column(String(64))
    reason: Mapped[str | None] = mapped_column(String(32))  # "help" | "free_text"
    status: Mapped[str] = mapped_column(String(16), default=OPEN)
    opened_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    closed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    closed_by: Mapped[str | None] = mapped_column(String(16))  # "operator" | "teacher" | ...
    closed_by_id: Mapped[int | None] = mapped_column(BigInteger)
    helpdesk_chat_id: Mapped[int | None] = mapped_column(BigInteger)
    thread_id: Mapped[int | None] = mapped_column(BigInteger)  # forum topic, None without topics
    card_message_id: Mapped[int | None] = mapped_column(BigInteger)
    assignee_id: Mapped[int | None] = mapped_column(BigInteger)
    assignee_name: Mapped[str | None] = mapped_column(String(256))
    # The first operator message relayed to the teacher (set once; notes and refused
    # deliveries do not count): what the first-response time of /stats is measured to.
    first_response_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    first_responder_id: Mapped[int | None] = mapped_column(BigInteger)
    first_responder_name: Mapped[str | None] = mapped_column(String(256))
    rating: Mapped[int | None] = mapped_column(Integer)
    rating_comment: Mapped[str | None] = mapped_column(Text)

    @property
    def is_open(self) -> bool:
        return self.status == OPEN


class TicketMessage(Base):
    """One relayed message, internal note or delivery refusal: the ticket's log."""

    __tablename__ = "helpdesk_messages"
    __table_args__ = (
        Index("ix_helpdesk_messages_copy", "helpdesk_chat_id", "helpdesk_message_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("helpdesk_tickets.id"), index=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    direction: Mapped[str] = mapped_column(String(16))  # see MessageDirection
    author_id: Mapped[int | None] = mapped_column(BigInteger)
    author_name: Mapped[str | None] = mapped_column(String(256))
    kind: Mapped[str] = mapped_column(String(16))  # text | photo | document | other
    text: Mapped[str | None] = mapped_column(Text)  # masked, for the record; never a secret
    teacher_message_id: Mapped[int | None] = mapped_column(BigInteger)
    helpdesk_chat_id: Mapped[int | None] = mapped_column(BigInteger)
    helpdesk_message_id: Mapped[int | None] = mapped_column(BigInteger)
    delivered: Mapped[bool] = mapped_column(Boolean, default=True)
    error: Mapped[str | None] = mapped_column(String(256))


class TranscriptEntry(Base):
    """A line of the teacher's conversation with the bot, secrets already masked."""

    __tablename__ = "helpdesk_transcript"
    __table_args__ = (Index("ix_helpdesk_transcript_user", "user_id", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    user_id: Mapped[int] = mapped_column(BigInteger)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    author: Mapped[str] = mapped_column(String(8))  # "teacher" | "bot"
    text: Mapped[str] = mapped_column(Text)


class TopicClaim(Base):
    """Who is creating a ticket's forum topic right now (a short lease).

    Two bot processes (or two updates) that find a ticket without its topic race to insert this
    row; only the winner calls createForumTopic, so one ticket never gets two topics.
    `replacing` is the thread id of a topic Telegram said is gone (0 for the first topic).
    """

    __tablename__ = "helpdesk_topic_claims"

    ticket_id: Mapped[int] = mapped_column(
        ForeignKey("helpdesk_tickets.id", ondelete="CASCADE"), primary_key=True
    )
    replacing: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    owner: Mapped[str] = mapped_column(String(64))
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
