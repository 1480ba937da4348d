"""The helpdesk's conversations: relaying both ways, edits, take/note/close, ratings.

`HelpdeskRelay` is the `helpdesk` object in the dispatcher's workflow data. It turns the domain
(`services.helpdesk`) into messages between a teacher's chat and her ticket's place in
`settings.helpdesk_chat_id`; the place itself (the forum topic and the context card, made once,
recreated when deleted) is its `TicketTopics` (bot/helpdesk/topics.py). Robustness rules it
implements:
- fair pacing: every call into the helpdesk group goes through the `Outbox` in its ticket's lane,
  so one busy ticket cannot hold back the others;
- every delivery Telegram refuses is logged with the ticket and reported where a person sees it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections.abc import Awaitable, Callable, Container, Hashable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, cast

from aiogram import Bot, Dispatcher
from aiogram.exceptions import TelegramAPIError, TelegramForbiddenError
from aiogram.fsm.state import State
from aiogram.methods import (
    CloseForumTopic,
    SendMessage,
)
from aiogram.methods.base import TelegramMethod, TelegramType
from aiogram.types import (
    ForceReply,
    Message,
    MessageId,
    ReplyParameters,
    User,
)
from aiogram.utils.i18n import I18n
from aiogram.utils.i18n import gettext as _
from sqlalchemy.ext.asyncio import async_sessionmaker

from bot.config import Settings
from bot.helpdesk.card import short_name
from bot.helpdesk.outbox import Outbox
from bot.helpdesk.rights import OperatorRights
from bot.helpdesk.signature import signed_answer, signed_edit
from bot.helpdesk.teacher_copy import MaskedText, copy_for, edit_for
from bot.helpdesk.topics import TicketTopics, reply_to_card
from bot.i18n import use_i18n
from bot.middlewares.transcript import TranscriptMiddleware, TranscriptRequestMiddleware
from services.helpdesk import (
    ClosedBy,
    MessageDirection,
    OpenedTicket,
    TicketService,
    TranscriptStore,
    WorkCalendar,
    WorkingHours,
    mask_secrets,
)
from services.helpdesk.models import Ticket
from services.helpdesk.topic_claims import TopicClaims
from services.storage.link_sessions import EventKind, LinkSessionRepository

logger = logging.getLogger(__name__)

WAIT_BASE_MINUTES = 10
WAIT_PER_TICKET_AHEAD = 5
WAIT_CAP_MINUTES = 120


def _utcnow() -> datetime:
    return datetime.now(UTC)


def message_kind(message: Message) -> str:
    if message.photo:
        return "photo"
    if message.document:
        return "document"
    if message.text is not None:
        return "text"
    return "other"


def telegram_name(user: User) -> str:
    """«Мария Иванова @maria»: how she appears in Telegram."""
    return f"{user.full_name} @{user.username}" if user.username else user.full_name


def display_name(user: User) -> str:
    return f"@{user.username}" if user.username else user.full_name


@dataclass(frozen=True)
class ExpectedWait:
    minutes: int | None  # within working hours: about how long
    opens_at: datetime | None  # outside them: when the helpdesk opens (helpdesk's timezone)


class HelpdeskRelay:
    """Tickets in Telegram: one object per bot process, shared by all updates."""

    def __init__(
        self,
        *,
        settings: Settings,
        tickets: TicketService,
        transcript: TranscriptStore,
        sessions: LinkSessionRepository,
        i18n: I18n,
        outbox: Outbox | None = None,
        clock: Callable[[], datetime] = _utcnow,
        monotonic: Callable[[], float] | None = None,
        claims: TopicClaims | None = None,
        sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep,
    ) -> None:
        self.settings = settings
        self.tickets = tickets
        self.transcript = transcript
        self.sessions = sessions
        self.i18n = i18n
        self.outbox = outbox or Outbox()
        self.hours = WorkingHours.parse(
            settings.helpdesk_hours,
            settings.helpdesk_timezone,
            WorkCalendar.from_settings(
                settings.helpdesk_extra_holidays, settings.helpdesk_extra_workdays
            ),
        )
        self._clock = clock
        self._monotonic = monotonic or time.monotonic
        self.rights = OperatorRights(
            settings.helpdesk_chat_id, settings.helpdesk_operator_ids, monotonic=self._monotonic
        )
        self.topics = TicketTopics(
            settings=settings,
            tickets=tickets,
            transcript=transcript,
            sessions=sessions,
            outbox=self.outbox,
            operator_language=self.operator_language,
            clock=clock,
            claims=claims,
            sleep=sleep,
        )

    @classmethod
    def create(
        cls,
        settings: Settings,
        session_factory: async_sessionmaker,
        sessions: LinkSessionRepository,
        i18n: I18n,
        *,
        clock: Callable[[], datetime] = _utcnow,
        outbox: Outbox | None = None,
        owner: str | None = None,
        sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep,
    ) -> HelpdeskRelay:
        """Build the relay and its stores on the bot's database.

        `owner` names this process in topic claims (any unique string; a random one if None);
        `sleep` paces the wait for a topic another process is creating.
        """
        return cls(
            settings=settings,
            tickets=TicketService(session_factory, clock=clock),
            transcript=TranscriptStore(session_factory, clock=clock, writer=sessions.writer),
            sessions=sessions,
            i18n=i18n,
            outbox=outbox,
            clock=clock,
            claims=TopicClaims(
                session_factory, owner=owner or f"relay-{uuid.uuid4().hex[:12]}", clock=clock
            ),
            sleep=sleep,
        )

    def install_dispatcher(self, dp: Dispatcher, *, secret_steps: Container[State]) -> None:
        """Record what teachers send, for the card's transcript (once per Dispatcher); what is
        typed in `secret_steps` (passwords, codes) is recorded only as «[•••]»."""
        dp.message.middleware(TranscriptMiddleware(self.transcript, secret_steps=secret_steps))

    def install_session(self, bot: Bot) -> None:
        """Record what the bot says in the teachers' transcripts (once per Bot)."""
        bot.session.middleware(TranscriptRequestMiddleware(self.transcript))

    # --- configuration --------------------------------------------------------------------
    @property
    def chat_id(self) -> int | None:
        return self.settings.helpdesk_chat_id

    @property
    def enabled(self) -> bool:
        return self.settings.helpdesk_chat_id is not None

    @contextlib.contextmanager
    def operator_language(self) -> Iterator[None]:
        """Operator-facing texts are in the helpdesk's language, whoever caused them."""
        with use_i18n(self.i18n, self.settings.default_locale):
            yield

    # --- teacher side -----------------------------------------------------------------------
    async def open_ticket(
        self, bot: Bot, *, user: User, chat_id: int, reason: str | None, step: str | None
    ) -> OpenedTicket:
        """Open (or find) the teacher's ticket and make sure its topic and card exist."""
        session = await self.sessions.get(user.id)
        opened = await self.tickets.open(
            user_id=user.id,
            chat_id=chat_id,
            teacher_name=(session.teacher_name if session else None) or user.full_name,
            telegram_name=telegram_name(user),
            locale=await self.sessions.get_locale(user.id) or user.language_code,
            scenario=session.scenario if session else None,
            step=step or (session.step if session else None),
            reason=reason,
        )
        if opened.created:
            await self.sessions.record_event(user.id, EventKind.HANDOFF, step=opened.ticket.step)
        try:
            ticket = await self.topics.ensure_place(bot, opened.ticket)
        except TelegramAPIError as error:  # the next message tries again; nothing is lost
            logger.error("ticket #%s: cannot reach the helpdesk chat: %s", opened.ticket.id, error)
            return opened
        return OpenedTicket(ticket, opened.created)

    async def expected_wait(self, ticket: Ticket) -> ExpectedWait:
        now = self._clock()
        if not self.hours.is_open(now):
            return ExpectedWait(minutes=None, opens_at=self.hours.next_opening(now))
        ahead = await self.tickets.waiting_before(ticket)
        minutes = min(WAIT_BASE_MINUTES + WAIT_PER_TICKET_AHEAD * ahead, WAIT_CAP_MINUTES)
        return ExpectedWait(minutes=minutes, opens_at=None)

    async def relay_from_teacher(self, bot: Bot, message: Message) -> bool:
        """Show the teacher's message in her ticket's topic, masked; False if it could not be.

        Her words are never copied raw: see bot/helpdesk/teacher_copy.py. A topic deleted by an
        operator is recreated (with the card) and the copy sent there.
        """
        assert message.from_user is not None
        ticket = await self.tickets.open_for_user(message.from_user.id)
        if ticket is None or self.chat_id is None:
            return False

        async def send(placed: Ticket) -> tuple[Message | MessageId, MaskedText]:
            method, shown = self._teacher_copy(placed, message)
            return await self._send(bot, method, lane=placed.id), shown

        try:
            copied, shown = await self.topics.deliver(bot, ticket, send)
        except TelegramAPIError as error:
            await self._log_teacher_refusal(ticket, message, error)
            return False
        await self.tickets.log_message(
            ticket.id,
            MessageDirection.TEACHER,
            kind=message_kind(message),
            text=shown.masked,
            author_id=message.from_user.id,
            teacher_message_id=message.message_id,
            helpdesk_chat_id=self.chat_id,
            helpdesk_message_id=copied.message_id,
        )
        return True

    def _teacher_copy(self, ticket: Ticket, message: Message) -> tuple[Any, MaskedText]:
        assert self.chat_id is not None
        with self.operator_language():
            note = _("🔒 Something that looked like a password, code or card number was hidden.")
        return copy_for(
            message,
            chat_id=self.chat_id,
            thread_id=ticket.thread_id,
            reply=reply_to_card(ticket),
            author=short_name(ticket.teacher_name),
            note=note,
        )

    async def _log_teacher_refusal(
        self, ticket: Ticket, message: Message, error: TelegramAPIError
    ) -> None:
        logger.error("ticket #%s: helpdesk refused a teacher message: %s", ticket.id, error)
        await self.tickets.log_message(
            ticket.id,
            MessageDirection.REFUSED,
            kind=message_kind(message),
            text=mask_secrets(message.text or message.caption or ""),
            author_id=message.from_user.id if message.from_user else None,
            teacher_message_id=message.message_id,
            delivered=False,
            error=error.message,
        )

    # --- operator side ----------------------------------------------------------------------
    async def ticket_for(self, message: Message) -> Ticket | None:
        """The ticket an operator's message belongs to: by topic, else by the replied message."""
        if self.chat_id is None or message.chat.id != self.chat_id:
            return None
        if message.is_topic_message and message.message_thread_id is not None:
            ticket = await self.tickets.by_thread(self.chat_id, message.message_thread_id)
            if ticket is not None:
                return ticket
        replied = message.reply_to_message
        if replied is not None and not replied.forum_topic_created:
            return await self.tickets.by_helpdesk_message(self.chat_id, replied.message_id)
        return None

    async def relay_to_teacher(self, bot: Bot, ticket: Ticket, message: Message) -> bool:
        """Copy an operator's answer to the teacher; a refusal is reported in the topic."""
        assert message.from_user is not None
        operator = display_name(message.from_user)
        if not ticket.is_open:
            with self.operator_language():
                notice = _("⚠️ The ticket is closed: not sent to the teacher.")
                await self.post(bot, ticket, notice, reply_to=message.message_id)
            return False
        try:
            answer = signed_answer(message, ticket.chat_id, self._signature(ticket, message))
            for method in answer:  # in order, through the chat's queue
                copied: Message | MessageId = await self.outbox.send(
                    bot, ticket.chat_id, cast("TelegramMethod[Message | MessageId]", method)
                )
        except TelegramAPIError as error:
            await self.tickets.log_message(
                ticket.id,
                MessageDirection.REFUSED,
                kind=message_kind(message),
                text=message.text or message.caption,
                author_id=message.from_user.id,
                author_name=operator,
                helpdesk_chat_id=message.chat.id,
                helpdesk_message_id=message.message_id,
                delivered=False,
                error=error.message,
            )
            with self.operator_language():
                await self.post(
                    bot,
                    ticket,
                    _("⚠️ Not delivered to the teacher: {reason}").format(
                        reason=self._refusal_reason(error)
                    ),
                    reply_to=message.message_id,
                )
            return False
        await self.tickets.log_message(
            ticket.id,
            MessageDirection.OPERATOR,
            kind=message_kind(message),
            text=message.text or message.caption,
            author_id=message.from_user.id,
            author_name=operator,
            teacher_message_id=copied.message_id,
            helpdesk_chat_id=message.chat.id,
            helpdesk_message_id=message.message_id,
        )
        return True

    async def relay_operator_edit(self, bot: Bot, ticket: Ticket, message: Message) -> bool:
        """The operator edited an answer: edit the teacher's copy the same way (signed)."""
        assert self.chat_id is not None
        logged = await self.tickets.relayed_message(
            ticket.id, MessageDirection.OPERATOR, helpdesk_message_id=message.message_id
        )
        if logged is None or logged.teacher_message_id is None or not ticket.is_open:
            return False
        method = signed_edit(
            message, ticket.chat_id, logged.teacher_message_id, self._signature(ticket, message)
        )
        if method is None:
            return False
        try:
            await self.outbox.send(bot, ticket.chat_id, method)
        except TelegramAPIError as error:
            if "not modified" in error.message:
                return True
            logger.warning("ticket #%s: teacher's copy not edited: %s", ticket.id, error)
            with self.operator_language():
                await self.post(
                    bot,
                    ticket,
                    _("⚠️ The edit did not reach the teacher: {reason}").format(
                        reason=self._refusal_reason(error)
                    ),
                    reply_to=message.message_id,
                )
            return False
        return True

    async def relay_teacher_edit(self, bot: Bot, message: Message) -> bool:
        """The teacher edited a message her ticket shows: edit the group's copy, masked."""
        if message.from_user is None or self.chat_id is None:
            return False
        ticket = await self.tickets.open_for_user(message.from_user.id)
        if ticket is None:
            return False
        logged = await self.tickets.relayed_message(
            ticket.id, MessageDirection.TEACHER, teacher_message_id=message.message_id
        )
        if logged is None or logged.helpdesk_message_id is None:
            return False
        with self.operator_language():
            note = _("🔒 Something that looked like a password, code or card number was hidden.")
            edited = _("✏️ edited")
        method, _shown = edit_for(
            message,
            chat_id=self.chat_id,
            message_id=logged.helpdesk_message_id,
            author=f"{short_name(ticket.teacher_name)} · {edited}",
            note=note,
        )
        try:
            await self._send(bot, method, lane=ticket.id)
        except TelegramAPIError as error:
            if "not modified" not in error.message:
                logger.warning("ticket #%s: the group's copy not edited: %s", ticket.id, error)
            return False
        return True

    def _signature(self, ticket: Ticket, message: Message) -> str:
        """«Анна, служба поддержки:» in the teacher's language (an anonymous admin: no name)."""
        locale = ticket.locale if ticket.locale in self.i18n.available_locales else None
        user = message.from_user
        with use_i18n(self.i18n, locale or self.i18n.default_locale):
            if message.sender_chat is not None or user is None or user.is_bot:
                return _("Helpdesk:")
            return _("{name}, helpdesk:").format(name=user.first_name)

    @staticmethod
    def _refusal_reason(error: TelegramAPIError) -> str:
        text = error.message.lower()
        if isinstance(error, TelegramForbiddenError) and "blocked" in text:
            return _("the teacher has blocked the bot")
        if isinstance(error, TelegramForbiddenError) or "chat not found" in text:
            return _("the teacher's chat is unavailable")
        return error.message

    async def take(self, bot: Bot, ticket: Ticket, operator: User) -> Ticket:
        """Assign the ticket to `operator`; the teacher is told who handles her request (once
        per operator: taking it again says nothing new)."""
        if not ticket.is_open:
            with self.operator_language():
                await self.post(bot, ticket, _("The ticket is already closed."))
            return ticket
        already_hers = ticket.assignee_id == operator.id
        ticket = await self.tickets.assign(
            ticket.id, operator_id=operator.id, operator_name=display_name(operator)
        )
        await self.topics.refresh_card(bot, ticket)
        with self.operator_language():
            await self.post(
                bot,
                ticket,
                _("👤 {operator} took the ticket.").format(operator=ticket.assignee_name),
            )
        if not already_hers:
            await self._tell_teacher_taken(bot, ticket, operator)
        return ticket

    async def _tell_teacher_taken(self, bot: Bot, ticket: Ticket, operator: User) -> None:
        locale = ticket.locale if ticket.locale in self.i18n.available_locales else None
        with use_i18n(self.i18n, locale or self.i18n.default_locale):
            text = _(
                "👤 {name} from the helpdesk is now handling your request #{number} and will "
                "answer here."
            ).format(name=operator.first_name, number=ticket.id)
        try:
            await self.outbox.send(
                bot, ticket.chat_id, SendMessage(chat_id=ticket.chat_id, text=text, parse_mode=None)
            )
        except TelegramAPIError as error:
            logger.warning("ticket #%s: teacher not told it was taken: %s", ticket.id, error)

    async def note(self, bot: Bot, ticket: Ticket, operator: User, text: str) -> None:
        await self.tickets.add_note(
            ticket.id, author_id=operator.id, author_name=display_name(operator), text=text
        )
        await self.topics.refresh_card(bot, ticket)

    async def close(
        self,
        bot: Bot,
        ticket: Ticket,
        *,
        closed_by: ClosedBy,
        closed_by_id: int | None = None,
        operator: User | None = None,
    ) -> Ticket | None:
        """Close the ticket, say so in the topic, refresh the card and close the topic.

        Returns the closed ticket, or None when it was closed already (nothing to notify).
        """
        closed = await self.tickets.close(ticket.id, closed_by=closed_by, closed_by_id=closed_by_id)
        if closed is None:
            return None
        with self.operator_language():
            if closed_by is ClosedBy.OPERATOR:
                who = display_name(operator) if operator else "—"
                notice = _("✅ Ticket closed by {operator}.").format(operator=who)
            elif closed_by is ClosedBy.TEACHER:
                notice = _("✅ The teacher ended the conversation.")
            else:
                notice = _("↩️ The teacher went back to the bot; the ticket is closed.")
            await self.post(bot, closed, notice)
        await self.topics.refresh_card(bot, closed)
        if closed.thread_id is not None and self.chat_id is not None:
            with contextlib.suppress(TelegramAPIError):
                await self.outbox.send(
                    bot,
                    self.chat_id,
                    CloseForumTopic(chat_id=self.chat_id, message_thread_id=closed.thread_id),
                    lane=closed.id,
                )
        return closed

    async def record_rating(self, bot: Bot, ticket_id: int, rating: int) -> None:
        ticket = await self.tickets.rate(ticket_id, rating)
        await self.sessions.record_event(
            ticket.user_id, EventKind.RATING, step=ticket.step, code=str(rating), value=rating
        )
        with self.operator_language():
            await self.post(
                bot, ticket, _("⭐ The teacher rated the help: {rating}/5").format(rating=rating)
            )
        await self.topics.refresh_card(bot, ticket)

    async def record_comment(self, bot: Bot, ticket_id: int, comment: str) -> None:
        masked = mask_secrets(comment)
        ticket = await self.tickets.comment(ticket_id, masked)
        with self.operator_language():
            await self.post(bot, ticket, _("💬 The teacher's comment: {text}").format(text=masked))

    # --- notices in the ticket's topic -------------------------------------------------------
    async def post(
        self,
        bot: Bot,
        ticket: Ticket,
        text: str,
        *,
        reply_to: int | None = None,
        force_reply: bool = False,
    ) -> Message | None:
        """A notice in the ticket's topic (or as a reply to its card); recreates a lost topic.

        `force_reply`: Telegram opens a reply to it (the «Заметка» prompt)."""
        chat_id = self.chat_id
        if chat_id is None:
            return None

        async def send(placed: Ticket) -> Message:
            reply = (
                ReplyParameters(message_id=reply_to, allow_sending_without_reply=True)
                if reply_to is not None
                else reply_to_card(placed)
            )
            return await self._send(
                bot,
                SendMessage(
                    chat_id=chat_id,
                    message_thread_id=placed.thread_id,
                    text=text,
                    reply_parameters=reply,
                    parse_mode=None,
                    reply_markup=ForceReply() if force_reply else None,
                ),
                lane=placed.id,
            )

        try:
            return await self.topics.deliver(bot, ticket, send, place_first=False)
        except TelegramAPIError as error:
            logger.error("ticket #%s: notice not posted: %s", ticket.id, error)
            return None

    async def _send(
        self, bot: Bot, method: TelegramMethod[TelegramType], *, lane: Hashable = None
    ) -> TelegramType:
        """A call into the helpdesk chat, in `lane` (the ticket's id) of the outbox."""
        assert self.chat_id is not None
        return await self.outbox.send(bot, self.chat_id, method, lane=lane)
