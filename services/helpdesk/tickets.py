"""Tickets: open one per teacher, log what is relayed, assign, note, close, rate."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum

from sqlalchemy import Update, func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import async_sessionmaker

from services.helpdesk.models import CLOSED, OPEN, Ticket, TicketMessage

MAX_LOGGED_TEXT = 4000


class MessageDirection(StrEnum):
    TEACHER = "teacher"  # teacher → helpdesk
    OPERATOR = "operator"  # helpdesk → teacher
    NOTE = "note"  # internal, never reaches the teacher
    REFUSED = "refused"  # Telegram refused a delivery; kept so nothing is lost silently


class ClosedBy(StrEnum):
    OPERATOR = "operator"
    TEACHER = "teacher"  # «Завершить разговор»
    RETURNED = "returned"  # «Вернуться к боту»


@dataclass(frozen=True)
class OpenedTicket:
    ticket: Ticket
    created: bool  # False when the teacher already had an open ticket


def _utcnow() -> datetime:
    return datetime.now(UTC)


def _first_response(message: TicketMessage) -> Update:
    """The ticket's first response is its first operator message relayed to the teacher: set
    once, by a conditional UPDATE, so two answers at once cannot both claim it."""
    return (
        update(Ticket)
        .where(Ticket.id == message.ticket_id, Ticket.first_response_at.is_(None))
        .values(
            first_response_at=message.at,
            first_responder_id=message.author_id,
            first_responder_name=message.author_name,
        )
    )


class TicketService:
    """Ticket persistence and rules. Each call is one short transaction; no Telegram types."""

    def __init__(
        self, session_factory: async_sessionmaker, clock: Callable[[], datetime] = _utcnow
    ) -> None:
        self._sessions = session_factory
        self._clock = clock

    async def open(
        self,
        *,
        user_id: int,
        chat_id: int,
        teacher_name: str,
        telegram_name: str | None = None,
        locale: str | None = None,
        scenario: str | None = None,
        step: str | None = None,
        reason: str | None = None,
    ) -> OpenedTicket:
        """Open a ticket for the teacher, or return the one already open (idempotent).

        The unique partial index on open tickets makes this hold across concurrent calls,
        processes and restarts: the loser of a race gets IntegrityError and reads the winner's.
        """
        existing = await self.open_for_user(user_id)
        if existing is not None:
            return OpenedTicket(existing, created=False)
        ticket = Ticket(
            user_id=user_id,
            chat_id=chat_id,
            teacher_name=teacher_name,
            telegram_name=telegram_name,
            locale=locale,
            scenario=scenario,
            step=step,
            reason=reason,
            status=OPEN,
            opened_at=self._clock(),
        )
        try:
            async with self._sessions.begin() as db:
                db.add(ticket)
        except IntegrityError:
            winner = await self.open_for_user(user_id)
            if winner is None:  # closed in between: extremely unlikely, try once more
                return await self.open(
                    user_id=user_id,
                    chat_id=chat_id,
                    teacher_name=teacher_name,
                    telegram_name=telegram_name,
                    locale=locale,
                    scenario=scenario,
                    step=step,
                    reason=reason,
                )
            return OpenedTicket(winner, created=False)
        return OpenedTicket(ticket, created=True)

    async def get(self, ticket_id: int) -> Ticket | None:
        async with self._sessions() as db:
            return await db.get(Ticket, ticket_id)

    async def count_open(self) -> int:
        """How many tickets are open now (a metrics gauge)."""
        async with self._sessions() as db:
            return await db.scalar(select(func.count()).where(Ticket.status == OPEN)) or 0

    async def open_for_user(self, user_id: int) -> Ticket | None:
        async with self._sessions() as db:
            return await db.scalar(
                select(Ticket).where(Ticket.user_id == user_id, Ticket.status == OPEN)
            )

    async def by_thread(self, helpdesk_chat_id: int, thread_id: int) -> Ticket | None:
        """The ticket whose forum topic this is (the newest, if a topic id was ever reused)."""
        async with self._sessions() as db:
            return await db.scalar(
                select(Ticket)
                .where(Ticket.helpdesk_chat_id == helpdesk_chat_id, Ticket.thread_id == thread_id)
                .order_by(Ticket.id.desc())
                .limit(1)
            )

    async def relayed_message(
        self,
        ticket_id: int,
        direction: MessageDirection,
        *,
        teacher_message_id: int | None = None,
        helpdesk_message_id: int | None = None,
    ) -> TicketMessage | None:
        """The logged relay of one message, found by its id on either side (for edits)."""
        query = select(TicketMessage).where(
            TicketMessage.ticket_id == ticket_id, TicketMessage.direction == direction
        )
        if teacher_message_id is not None:
            query = query.where(TicketMessage.teacher_message_id == teacher_message_id)
        if helpdesk_message_id is not None:
            query = query.where(TicketMessage.helpdesk_message_id == helpdesk_message_id)
        async with self._sessions() as db:
            return await db.scalar(query.order_by(TicketMessage.id.desc()).limit(1))

    async def by_helpdesk_message(self, helpdesk_chat_id: int, message_id: int) -> Ticket | None:
        """The ticket whose card, or one of whose relayed messages, is `message_id`."""
        async with self._sessions() as db:
            relayed = (
                select(TicketMessage.ticket_id)
                .where(
                    TicketMessage.helpdesk_chat_id == helpdesk_chat_id,
                    TicketMessage.helpdesk_message_id == message_id,
                )
                .scalar_subquery()
            )
            return await db.scalar(
                select(Ticket)
                .where(
                    Ticket.helpdesk_chat_id == helpdesk_chat_id,
                    or_(Ticket.card_message_id == message_id, Ticket.id.in_(relayed)),
                )
                .order_by(Ticket.id.desc())
                .limit(1)
            )

    async def waiting_before(self, ticket: Ticket) -> int:
        """How many open, unassigned tickets were opened before this one (the queue ahead)."""
        async with self._sessions() as db:
            count = await db.scalar(
                select(func.count(Ticket.id)).where(
                    Ticket.status == OPEN, Ticket.assignee_id.is_(None), Ticket.id < ticket.id
                )
            )
            return int(count or 0)

    async def open_queue(self, limit: int) -> tuple[list[Ticket], int]:
        """Open tickets, the longest waiting first (at most `limit`), and how many are open."""
        async with self._sessions() as db:
            total = await db.scalar(select(func.count(Ticket.id)).where(Ticket.status == OPEN))
            oldest = await db.scalars(
                select(Ticket)
                .where(Ticket.status == OPEN)
                .order_by(Ticket.opened_at, Ticket.id)
                .limit(limit)
            )
            return list(oldest), int(total or 0)

    async def set_topic(
        self,
        ticket_id: int,
        *,
        helpdesk_chat_id: int,
        thread_id: int | None,
        card_message_id: int | None,
    ) -> Ticket:
        """Remember where the ticket lives in the helpdesk chat (a new topic after a deletion)."""
        async with self._sessions.begin() as db:
            ticket = await self._load(db, ticket_id)
            ticket.helpdesk_chat_id = helpdesk_chat_id
            ticket.thread_id = thread_id
            ticket.card_message_id = card_message_id
            return ticket

    async def log_message(
        self,
        ticket_id: int,
        direction: MessageDirection,
        *,
        kind: str = "text",
        text: str | None = None,
        author_id: int | None = None,
        author_name: str | None = None,
        teacher_message_id: int | None = None,
        helpdesk_chat_id: int | None = None,
        helpdesk_message_id: int | None = None,
        delivered: bool = True,
        error: str | None = None,
    ) -> TicketMessage:
        """Append to the ticket's log. `text` must already be masked by the caller.

        The first OPERATOR entry (a message relayed to the teacher) is the ticket's first
        response.
        """
        entry = TicketMessage(
            ticket_id=ticket_id,
            at=self._clock(),
            direction=direction,
            kind=kind,
            text=text[:MAX_LOGGED_TEXT] if text else None,
            author_id=author_id,
            author_name=author_name,
            teacher_message_id=teacher_message_id,
            helpdesk_chat_id=helpdesk_chat_id,
            helpdesk_message_id=helpdesk_message_id,
            delivered=delivered,
            error=error[:256] if error else None,
        )
        async with self._sessions.begin() as db:
            db.add(entry)
            if direction == MessageDirection.OPERATOR:
                await db.execute(_first_response(entry))
        return entry

    async def messages(
        self, ticket_id: int, direction: MessageDirection | None = None
    ) -> list[TicketMessage]:
        async with self._sessions() as db:
            query = select(TicketMessage).where(TicketMessage.ticket_id == ticket_id)
            if direction is not None:
                query = query.where(TicketMessage.direction == direction)
            return list(await db.scalars(query.order_by(TicketMessage.id)))

    async def add_note(
        self, ticket_id: int, *, author_id: int, author_name: str, text: str
    ) -> TicketMessage:
        """An internal note: stored with the ticket, never sent to the teacher."""
        return await self.log_message(
            ticket_id,
            MessageDirection.NOTE,
            text=text,
            author_id=author_id,
            author_name=author_name,
        )

    async def assign(self, ticket_id: int, *, operator_id: int, operator_name: str) -> Ticket:
        async with self._sessions.begin() as db:
            ticket = await self._load(db, ticket_id)
            ticket.assignee_id = operator_id
            ticket.assignee_name = operator_name
            return ticket

    async def close(
        self, ticket_id: int, *, closed_by: ClosedBy, closed_by_id: int | None = None
    ) -> Ticket | None:
        """Close an open ticket; returns it, or None when it was already closed (so only one
        of two simultaneous closes notifies the teacher)."""
        async with self._sessions.begin() as db:
            result = await db.execute(
                update(Ticket)
                .where(Ticket.id == ticket_id, Ticket.status == OPEN)
                .values(
                    status=CLOSED,
                    closed_at=self._clock(),
                    closed_by=closed_by,
                    closed_by_id=closed_by_id,
                )
            )
            if result.rowcount == 0:
                return None
            return await self._load(db, ticket_id)

    async def rate(self, ticket_id: int, rating: int) -> Ticket:
        """Store the teacher's CSAT (1..5) for a ticket."""
        if not 1 <= rating <= 5:
            raise ValueError(f"rating must be 1..5, got {rating}")
        async with self._sessions.begin() as db:
            ticket = await self._load(db, ticket_id)
            ticket.rating = rating
            return ticket

    async def comment(self, ticket_id: int, comment: str) -> Ticket:
        async with self._sessions.begin() as db:
            ticket = await self._load(db, ticket_id)
            ticket.rating_comment = comment[:MAX_LOGGED_TEXT]
            return ticket

    async def notes(self, ticket_id: int) -> list[TicketMessage]:
        return await self.messages(ticket_id, MessageDirection.NOTE)

    @staticmethod
    async def _load(db, ticket_id: int) -> Ticket:  # type: ignore[no-untyped-def]
        ticket = await db.get(Ticket, ticket_id, populate_existing=True)
        if ticket is None:
            raise LookupError(f"no ticket {ticket_id}")
        return ticket
