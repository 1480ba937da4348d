"""Where a ticket lives in the helpdesk group: its forum topic and its context card.

`TicketTopics` belongs to the `HelpdeskRelay`, which asks it for the ticket's place before
relaying into the group. Robustness rules it implements:
- one topic and one card per ticket even under a burst or across replicas (one open ticket per
  teacher in the DB; a per-ticket lock in the process and a claim row in the database around
  creating its topic, services/helpdesk/topic_claims.py);
- a topic deleted by an operator is recreated, with the card, when the next message finds it
  gone (`deliver`);
- a group without topics (or without the right to manage them) gets the card in the chat, and
  the ticket's messages answer it (`reply_to_card`);
- the card is edited in place when the ticket changes (assignee, status, notes, rating).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Hashable
from datetime import UTC, datetime
from typing import Any, TypeVar

from aiogram import Bot
from aiogram.enums import ParseMode
from aiogram.exceptions import TelegramAPIError, TelegramBadRequest
from aiogram.methods import CreateForumTopic, EditMessageText, SendMessage
from aiogram.methods.base import TelegramMethod, TelegramType
from aiogram.types import InlineKeyboardMarkup, ReplyParameters
from aiogram.utils.i18n import gettext as _

from bot.config import Settings
from bot.helpdesk.card import CardData, TranscriptLine, render_card, topic_name
from bot.helpdesk.card_buttons import card_keyboard
from bot.helpdesk.outbox import Outbox
from bot.keyed_locks import KeyedLocks
from services.helpdesk import MessageDirection, TicketService, TranscriptStore
from services.helpdesk.models import Ticket
from services.helpdesk.topic_claims import TopicClaims
from services.storage.link_sessions import LinkSessionRepository

logger = logging.getLogger(__name__)

T = TypeVar("T")

TRANSCRIPT_LOOKBACK = 40  # transcript lines read to find those before the ticket
CARD_TRANSCRIPT_LINES = 12
CLAIM_WAIT = 0.5  # seconds between looks at a topic another process is creating
_TOPIC_GONE = ("thread not found", "topic_deleted", "topic_id_invalid", "message thread")
_NOT_A_FORUM = ("not a forum", "chat_not_forum")


def _as_utc(moment: datetime | None) -> datetime | None:
    if moment is None:
        return None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


def _topic_gone(error: TelegramAPIError) -> bool:
    return any(marker in error.message.lower() for marker in _TOPIC_GONE)


def reply_to_card(ticket: Ticket) -> ReplyParameters | None:
    """In a group without topics a ticket's messages answer its card (None: it has a topic)."""
    if ticket.thread_id is not None or ticket.card_message_id is None:
        return None
    return ReplyParameters(message_id=ticket.card_message_id, allow_sending_without_reply=True)


class TicketTopics:
    """The topics and cards of all tickets: one object per bot process (the relay's)."""

    def __init__(
        self,
        *,
        settings: Settings,
        tickets: TicketService,
        transcript: TranscriptStore,
        sessions: LinkSessionRepository,
        outbox: Outbox,
        operator_language: Callable[[], contextlib.AbstractContextManager[None]],
        clock: Callable[[], datetime],
        claims: TopicClaims | None = None,
        sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep,
    ) -> None:
        """`operator_language`: the language operator texts (topic name, card) are written in;
        `claims`: one creator of a topic across processes (None: this process alone);
        `sleep` paces the wait for a topic another process is creating."""
        self.settings = settings
        self.tickets = tickets
        self.transcript = transcript
        self.sessions = sessions
        self.outbox = outbox
        self._operator_language = operator_language
        self._clock = clock
        self.claims = claims
        self._sleep = sleep
        self._place_locks = KeyedLocks()
        self._not_forum: set[int] = set()

    @property
    def chat_id(self) -> int | None:
        return self.settings.helpdesk_chat_id

    # --- the place: topic and card, once -----------------------------------------------------
    async def ensure_place(
        self, bot: Bot, ticket: Ticket, *, stale_thread_id: int | None = None
    ) -> Ticket:
        """The ticket with its topic and card in the helpdesk chat, creating them if missing.

        `stale_thread_id`: a topic Telegram said is gone; a new one is made unless another task
        already replaced it.
        """
        assert self.chat_id is not None
        async with self._place_locks.hold(ticket.id):
            fresh = await self._wait_for_place_or_claim(ticket.id, stale_thread_id)
            if fresh is not None:
                return fresh
            try:
                fresh = await self.tickets.get(ticket.id)  # it may have been placed meanwhile
                assert fresh is not None
                if self._is_placed(fresh, stale_thread_id):
                    return fresh
                return await self._place(bot, fresh, stale_thread_id)
            finally:
                if self.claims is not None:
                    await self.claims.release(ticket.id, stale_thread_id)

    async def deliver(
        self,
        bot: Bot,
        ticket: Ticket,
        send: Callable[[Ticket], Awaitable[T]],
        *,
        place_first: bool = True,
    ) -> T:
        """`send(ticket)` into the ticket's place; when Telegram says its topic is gone (deleted
        by an operator), the topic is recreated with the card and `send` runs once more with the
        ticket that has it. Any other refusal propagates.

        `place_first`: make the topic and card first if the ticket has none yet.
        """
        stale: int | None = None
        while True:
            try:
                if place_first or stale is not None:
                    ticket = await self.ensure_place(bot, ticket, stale_thread_id=stale)
                return await send(ticket)
            except TelegramBadRequest as error:
                if stale is None and ticket.thread_id is not None and _topic_gone(error):
                    stale = ticket.thread_id
                    continue
                raise

    def _is_placed(self, ticket: Ticket, stale_thread_id: int | None) -> bool:
        placed = ticket.helpdesk_chat_id == self.chat_id and ticket.card_message_id is not None
        return placed and (stale_thread_id is None or ticket.thread_id != stale_thread_id)

    async def _wait_for_place_or_claim(
        self, ticket_id: int, stale_thread_id: int | None
    ) -> Ticket | None:
        """The ticket if it already has its place; None once this process holds the claim."""
        while True:
            fresh = await self.tickets.get(ticket_id)
            assert fresh is not None
            if self._is_placed(fresh, stale_thread_id):
                return fresh
            if self.claims is None or await self.claims.claim(ticket_id, stale_thread_id):
                return None
            # Another replica is creating the topic right now: wait for it to appear (its claim
            # lapses if that replica dies, and then this one takes over).
            await self._sleep(CLAIM_WAIT)

    async def _place(self, bot: Bot, fresh: Ticket, stale_thread_id: int | None) -> Ticket:
        assert self.chat_id is not None
        thread_id = await self._create_topic(bot, fresh)
        card = await self._send(
            bot,
            SendMessage(
                chat_id=self.chat_id,
                message_thread_id=thread_id,
                text=await self._card_html(fresh, topics=thread_id is not None),
                parse_mode=ParseMode.HTML,
                reply_markup=self._card_keyboard(fresh),
            ),
            lane=fresh.id,
        )
        fresh = await self.tickets.set_topic(
            fresh.id,
            helpdesk_chat_id=self.chat_id,
            thread_id=thread_id,
            card_message_id=card.message_id,
        )
        if stale_thread_id is not None:
            logger.warning("ticket #%s: topic %s was deleted, recreated", fresh.id, stale_thread_id)
            with self._operator_language():
                await self._send(
                    bot,
                    SendMessage(
                        chat_id=self.chat_id,
                        message_thread_id=thread_id,
                        text=_("♻️ The topic was deleted; recreated with the card."),
                    ),
                    lane=fresh.id,
                )
        return fresh

    async def _create_topic(self, bot: Bot, ticket: Ticket) -> int | None:
        """A new forum topic for the ticket, or None when the chat has no topics."""
        assert self.chat_id is not None
        if self.chat_id in self._not_forum:
            return None
        with self._operator_language():
            name = topic_name(ticket.id, ticket.teacher_name, ticket.scenario, ticket.step)
        try:
            topic = await self._send(
                bot, CreateForumTopic(chat_id=self.chat_id, name=name), lane=ticket.id
            )
        except TelegramBadRequest as error:
            # No topics (or no right to manage them): reply-to-card mode still works.
            logger.warning("helpdesk chat: no forum topics (%s), using replies to cards", error)
            if any(marker in error.message.lower() for marker in _NOT_A_FORUM):
                self._not_forum.add(self.chat_id)
            return None
        return topic.message_thread_id

    # --- the card ------------------------------------------------------------------------------
    async def refresh_card(self, bot: Bot, ticket: Ticket) -> None:
        """Edit the card in place (assignee, status, notes); a vanished card is re-posted later."""
        if self.chat_id is None or ticket.card_message_id is None:
            return
        text = await self._card_html(ticket, topics=ticket.thread_id is not None)
        try:
            await self._send(
                bot,
                EditMessageText(
                    chat_id=self.chat_id,
                    message_id=ticket.card_message_id,
                    text=text,
                    parse_mode=ParseMode.HTML,
                    reply_markup=self._card_keyboard(ticket),
                ),
                lane=ticket.id,
            )
        except TelegramBadRequest as error:
            if "not modified" not in error.message:
                logger.warning("ticket #%s: card not updated: %s", ticket.id, error)

    async def _card_html(self, ticket: Ticket, *, topics: bool) -> str:
        session = await self.sessions.get(ticket.user_id)
        recent = await self._before_the_ticket(ticket)
        notes = [note.text or "" for note in await self.tickets.notes(ticket.id)]
        with self._operator_language():
            return render_card(
                CardData(
                    ticket_id=ticket.id,
                    is_open=ticket.is_open,
                    teacher_name=ticket.teacher_name,
                    telegram_name=ticket.telegram_name,
                    user_id=ticket.user_id,
                    scenario=ticket.scenario,
                    step=ticket.step,
                    reason=ticket.reason,
                    last_errors=list(session.last_errors or []) if session else [],
                    phone_masked=session.phone_masked if session else None,
                    locale=ticket.locale,
                    started_at=_as_utc(session.started_at) if session else None,
                    codes_requested=session.codes_requested if session else 0,
                    assignee_name=ticket.assignee_name,
                    notes=notes,
                    transcript=[TranscriptLine(e.author, e.text) for e in recent],
                    now=self._clock(),
                    topics=topics,
                    rating=ticket.rating,
                )
            )

    async def _before_the_ticket(self, ticket: Ticket) -> list[Any]:
        """The transcript up to the ticket's opening: what she wrote since is relayed below the
        card (also dropped by text, for lines recorded in the same second)."""
        opened = _as_utc(ticket.opened_at)
        relayed = {m.text for m in await self.tickets.messages(ticket.id, MessageDirection.TEACHER)}
        lines = [
            entry
            for entry in await self.transcript.recent(ticket.user_id, limit=TRANSCRIPT_LOOKBACK)
            if (opened is None or (_as_utc(entry.at) or opened) <= opened)
            and not (entry.author == "teacher" and entry.text in relayed)
        ]
        return lines[-CARD_TRANSCRIPT_LINES:]

    def _card_keyboard(self, ticket: Ticket) -> InlineKeyboardMarkup | None:
        with self._operator_language():
            return card_keyboard(ticket)

    async def _send(
        self, bot: Bot, method: TelegramMethod[TelegramType], *, lane: Hashable = None
    ) -> TelegramType:
        """A call into the helpdesk chat, in `lane` (the ticket's id) of the outbox."""
        assert self.chat_id is not None
        return await self.outbox.send(bot, self.chat_id, method, lane=lane)
