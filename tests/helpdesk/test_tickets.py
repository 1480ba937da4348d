"""Tickets: exactly one open per teacher (under a burst and across a restart), close, rate."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from sqlalchemy.exc import IntegrityError

from services.helpdesk import ClosedBy, MessageDirection, TicketService
from services.helpdesk.models import Ticket
from services.storage.db import create_engine, create_session_factory

TEACHER = dict(user_id=100, chat_id=100, teacher_name="Иванова Мария Петровна")


async def test_a_burst_of_opens_makes_exactly_one_ticket(tickets: TicketService) -> None:
    results = await asyncio.gather(*(tickets.open(**TEACHER, step="Link:code") for _ in range(8)))

    assert {r.ticket.id for r in results} == {results[0].ticket.id}
    assert sum(r.created for r in results) == 1


async def test_two_services_on_one_database_still_open_one_ticket(
    tickets: TicketService, session_factory, wall
) -> None:
    other_process = TicketService(session_factory, clock=wall)
    first, second = await asyncio.gather(tickets.open(**TEACHER), other_process.open(**TEACHER))
    assert first.ticket.id == second.ticket.id
    assert [first.created, second.created].count(True) == 1


async def test_the_database_refuses_a_second_open_ticket(tickets, session_factory, wall) -> None:
    await tickets.open(**TEACHER)
    with pytest.raises(IntegrityError):
        async with session_factory.begin() as db:
            db.add(Ticket(**TEACHER, status="open", opened_at=wall()))


async def test_an_open_ticket_survives_a_restart(tmp_path: Path, tickets, wall) -> None:
    opened = await tickets.open(**TEACHER, scenario="new_profile", step="Link:code")

    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'helpdesk.sqlite3'}")
    try:
        restarted = TicketService(create_session_factory(engine), clock=wall)
        again = await restarted.open(**TEACHER)
        assert again.ticket.id == opened.ticket.id and not again.created
        assert again.ticket.step == "Link:code"
    finally:
        await engine.dispose()


async def test_after_closing_the_next_handoff_opens_a_new_ticket(tickets: TicketService) -> None:
    first = await tickets.open(**TEACHER)
    closed = await tickets.close(first.ticket.id, closed_by=ClosedBy.OPERATOR, closed_by_id=7)
    assert closed is not None and closed.status == "closed" and closed.closed_by_id == 7
    assert await tickets.close(first.ticket.id, closed_by=ClosedBy.TEACHER) is None

    second = await tickets.open(**TEACHER)
    assert second.created and second.ticket.id == first.ticket.id + 1


async def test_relayed_messages_find_their_ticket(tickets: TicketService) -> None:
    ticket = (await tickets.open(**TEACHER)).ticket
    await tickets.set_topic(ticket.id, helpdesk_chat_id=-100, thread_id=None, card_message_id=5)
    await tickets.log_message(
        ticket.id,
        MessageDirection.TEACHER,
        text="привет",
        helpdesk_chat_id=-100,
        helpdesk_message_id=9,
    )

    assert (await tickets.by_helpdesk_message(-100, 5)).id == ticket.id  # the card
    assert (await tickets.by_helpdesk_message(-100, 9)).id == ticket.id  # a relayed message
    assert await tickets.by_helpdesk_message(-100, 6) is None
    assert await tickets.by_helpdesk_message(-200, 5) is None


async def test_assign_note_and_rating_are_stored(tickets: TicketService) -> None:
    ticket = (await tickets.open(**TEACHER)).ticket
    await tickets.assign(ticket.id, operator_id=7, operator_name="@olga")
    await tickets.add_note(ticket.id, author_id=7, author_name="@olga", text="звонила в школу")
    await tickets.rate(ticket.id, 4)
    await tickets.comment(ticket.id, "спасибо")

    stored = await tickets.get(ticket.id)
    assert (stored.assignee_name, stored.rating, stored.rating_comment) == ("@olga", 4, "спасибо")
    assert [n.text for n in await tickets.notes(ticket.id)] == ["звонила в школу"]
    with pytest.raises(ValueError):
        await tickets.rate(ticket.id, 6)


async def test_queue_ahead_counts_older_unassigned_open_tickets(tickets: TicketService) -> None:
    first = (await tickets.open(user_id=1, chat_id=1, teacher_name="A")).ticket
    second = (await tickets.open(user_id=2, chat_id=2, teacher_name="B")).ticket
    third = (await tickets.open(user_id=3, chat_id=3, teacher_name="C")).ticket
    assert await tickets.waiting_before(third) == 2
    await tickets.assign(first.id, operator_id=7, operator_name="@olga")
    assert await tickets.waiting_before(third) == 1
    assert await tickets.waiting_before(second) == 0
