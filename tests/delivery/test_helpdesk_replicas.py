"""The helpdesk group across replicas and under load: one topic per ticket, fair pacing, bounds.

Time in the outbox is manual (nothing waits for real); Redis-backed pacing runs on the local
Redis under a throwaway prefix.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from aiogram import Bot
from aiogram.methods import CreateForumTopic, SendMessage
from sqlalchemy.ext.asyncio import async_sessionmaker

from bot.config import Settings
from bot.helpdesk.outbox import Outbox
from bot.helpdesk.relay import HelpdeskRelay
from bot.i18n import create_i18n
from bot.shared_state.pacing import MemoryPacingBudget, RedisPacingBudget
from services.helpdesk import TicketService
from services.helpdesk.models import TopicClaim
from services.helpdesk.topic_claims import TopicClaims
from services.storage.link_sessions import LinkSessionRepository
from tests.helpdesk.conftest import ManualTime
from tests.support.fake_telegram import FakeTelegram

GROUP = -1009000
T0 = datetime(2025, 3, 12, 7, 0, tzinfo=UTC)


def relay(factory: async_sessionmaker, owner: str, **kwargs) -> HelpdeskRelay:  # type: ignore[no-untyped-def]
    settings = Settings(_env_file=None, bot_token="42:TEST", helpdesk_chat_id=GROUP)  # type: ignore[call-arg]
    sessions = LinkSessionRepository(factory)
    return HelpdeskRelay.create(
        settings, factory, sessions, create_i18n("ru"), owner=owner, **kwargs
    )


async def open_ticket(factory: async_sessionmaker, user_id: int = 100):  # type: ignore[no-untyped-def]
    opened = await TicketService(factory).open(
        user_id=user_id, chat_id=user_id, teacher_name="Мария Иванова"
    )
    return opened.ticket


def forum_bot() -> tuple[Bot, FakeTelegram]:
    telegram = FakeTelegram()
    telegram.chat(GROUP, title="Поддержка", is_forum=True)
    return Bot("42:TEST", session=telegram), telegram


# --- one topic per ticket ---------------------------------------------------------------------


async def test_two_replicas_placing_one_ticket_create_one_topic(factory) -> None:  # type: ignore[no-untyped-def]
    bot, telegram = forum_bot()
    ticket = await open_ticket(factory)
    waits: list[float] = []

    async def yield_turn(seconds: float) -> None:
        waits.append(seconds)
        await asyncio.sleep(0)

    replica_a = relay(factory, "replica-a", sleep=yield_turn)
    replica_b = relay(factory, "replica-b", sleep=yield_turn)

    placed_a, placed_b = await asyncio.gather(
        replica_a.topics.ensure_place(bot, ticket), replica_b.topics.ensure_place(bot, ticket)
    )

    assert len(telegram.calls_of(CreateForumTopic)) == 1
    assert placed_a.thread_id == placed_b.thread_id is not None
    assert placed_a.card_message_id == placed_b.card_message_id
    assert waits  # the loser waited for the winner instead of creating its own
    async with factory() as db:
        assert await db.get(TopicClaim, (ticket.id, 0)) is None  # the claim was given back
    assert len(replica_a.topics._place_locks) == 0 and len(replica_b.topics._place_locks) == 0


async def test_the_claim_of_a_replica_that_died_lapses(factory) -> None:  # type: ignore[no-untyped-def]
    bot, telegram = forum_bot()
    ticket = await open_ticket(factory)
    moment = [T0]
    dead = TopicClaims(factory, owner="dead-replica", clock=lambda: moment[0])
    assert await dead.claim(ticket.id)  # then the process died before creating the topic

    async def time_passes(_seconds: float) -> None:
        moment[0] += timedelta(seconds=61)

    survivor = relay(factory, "survivor", sleep=time_passes)
    survivor.topics.claims = TopicClaims(factory, owner="survivor", clock=lambda: moment[0])
    placed = await survivor.topics.ensure_place(bot, ticket)

    assert placed.thread_id is not None
    assert len(telegram.calls_of(CreateForumTopic)) == 1


# --- fair pacing --------------------------------------------------------------------------------


async def test_one_teachers_flood_delays_another_teachers_card_by_one_slot_not_minutes() -> None:
    time = ManualTime()
    bot, telegram = forum_bot()
    delivered: list[tuple[float, str]] = []

    async def note(make_request, bot, method):  # type: ignore[no-untyped-def]
        result = await make_request(bot, method)
        delivered.append((time(), method.text))
        return result

    telegram.middleware(note)
    outbox = Outbox(clock=time, sleep=time.sleep)
    flood = [
        asyncio.create_task(
            outbox.send(bot, GROUP, SendMessage(chat_id=GROUP, text=f"t1-{n}"), lane=1)
        )
        for n in range(120)
    ]
    await asyncio.sleep(0)  # the flood is queued first
    queued_at = time()
    card = asyncio.create_task(
        outbox.send(bot, GROUP, SendMessage(chat_id=GROUP, text="card of ticket 2"), lane=2)
    )
    await asyncio.gather(*flood, card)

    card_at = next(at for at, text in delivered if text == "card of ticket 2")
    # Two slots at most: the one in flight, then lanes take turns (FIFO would be 6 minutes).
    assert card_at - queued_at <= 2.0
    teacher_one = [text for _, text in delivered if text.startswith("t1-")]
    assert teacher_one == [f"t1-{n}" for n in range(120)]  # her own messages stay in order
    times = sorted(at for at, _ in delivered)
    for index in range(20, len(times)):
        assert times[index] - times[index - 20] >= 60.0  # 20 a minute, still
    assert outbox.chats_waiting == 0  # nothing left behind in memory


async def test_the_pacing_budget_forgets_idle_chats() -> None:
    time = ManualTime()
    budget = MemoryPacingBudget(clock=time)
    last_slot = 0.0
    for chat_id in range(1, 500):  # 30 a second overall: the bookings reach ~16 s ahead
        last_slot = max(last_slot, await budget.reserve(chat_id))
    assert budget.tracked_chats == 499
    time.now = last_slot + 60.5  # a minute after the last booked message
    await budget.reserve(GROUP)
    assert budget.tracked_chats == 1


@pytest.mark.redis
async def test_replicas_share_the_group_budget_through_redis(redis, redis_prefix) -> None:  # type: ignore[no-untyped-def]
    now = [1000.0]
    replica_a = RedisPacingBudget(redis, prefix=redis_prefix, clock=lambda: now[0])
    replica_b = RedisPacingBudget(redis, prefix=redis_prefix, clock=lambda: now[0])

    delays = []
    for index in range(25):  # both replicas book slots for the same group at the same moment
        replica = replica_a if index % 2 == 0 else replica_b
        delays.append(await replica.reserve(GROUP))

    assert delays[:20] == [float(n) for n in range(20)]  # one a second, whoever books
    assert delays[20:] == [60.0, 61.0, 62.0, 63.0, 64.0]  # the 21st waits for the minute
    assert await replica_a.reserve(555) == 0.0  # a private chat is not held up by the group
