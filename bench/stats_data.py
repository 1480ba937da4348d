"""Generated teachers for /stats: analytics events with a realistic funnel, and their tickets.

Each teacher starts, passes the pre-checks and the branch question, then walks her scenario's
steps (`SCENARIO_STEPS`); at every step she may give up, go back a step, open a help screen,
get a refusal, call the helpdesk (and rate it), or — on the password step — go through a
password recovery. Some say «Нет» and are switched to scenario B after the phone step; a few
only ever reach the helpdesk. Times are random to the microsecond; some events share a moment,
as events written in one update do. Deterministic for a given seed.

Used by bench/stats_bench.py (100,000 teachers) and by the tests that hold the SQL reports to a
plain Python computation (a few hundred). Standalone: imports nothing from the bench folder.
"""

from __future__ import annotations

import random
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncConnection

from services.helpdesk.models import Ticket
from services.storage.models import AnalyticsEvent

ONBOARDING = ("Onboarding:prechecks", "Onboarding:branch")
SCENARIO_STEPS = {
    "new_profile": (
        "Link:phone",
        "Link:account_card",
        "Link:password",
        "Link:code",
        "Link:full_name",
        "Link:birth_date",
        "Link:gender",
        "Link:consent",
    ),
    "existing_profile": (
        "Link:phone",
        "Link:password",
        "Link:code",
        "Link:choose_profile",
        "Link:confirm_data",
        "Link:consent",
    ),
    "registration": (
        "Link:phone",
        "Link:code",
        "Link:full_name",
        "Link:birth_date",
        "Link:gender",
        "Link:consent",
    ),
}
SCENARIO_SHARES = (("new_profile", 0.45), ("existing_profile", 0.40), ("registration", 0.15))
RECOVERY_STEPS = (
    "Recovery:phone",
    "Recovery:sms_code",
    "Recovery:confirm_account",
    "Recovery:method",
    "Recovery:method_code",
    "Recovery:new_password",
    "Recovery:repeat_password",
    "Recovery:done",
)
HELP_STEP = "Help:topic"  # not among the dialogs' states: ordered by position
SLOW_STEPS = {"Link:code": 50.0, "Link:password": 30.0, "Link:full_name": 35.0}
GIVE_UP = {"Link:code": 0.07, "Link:password": 0.05, "Onboarding:branch": 0.05}
OPERATORS = ((9001, "@anna"), (9002, "@boris"), (9003, "Вера Петрова"), (9004, "@gleb"))
RATINGS = (1, 2, 3, 4, 5)
RATING_WEIGHTS = (0.05, 0.05, 0.1, 0.3, 0.5)


@dataclass
class GeneratedTicket:
    user_id: int
    opened_at: datetime
    scenario: str | None
    step: str | None
    rating: int | None
    answered_after: float | None  # seconds to the first operator answer
    responder: tuple[int, str] | None
    assignee: tuple[int, str] | None
    closed_after: float | None  # seconds to closing; None: still open
    closed_by_operator: bool


@dataclass
class Dataset:
    events: list[dict[str, Any]] = field(default_factory=list)
    tickets: list[GeneratedTicket] = field(default_factory=list)


class _Teacher:
    def __init__(self, rng: random.Random, user_id: int, at: datetime, dataset: Dataset) -> None:
        self.rng, self.user_id, self.at, self.dataset = rng, user_id, at, dataset
        self.scenario: str | None = None
        self.step: str | None = None
        self.has_ticket = False

    def wait(self, mean_seconds: float) -> None:
        # Log-normal, like people; a quarter of side events share the moment of the last one.
        self.at += timedelta(microseconds=int(self.rng.lognormvariate(0, 0.8) * mean_seconds * 1e6))

    def event(self, kind: str, **fields: Any) -> None:
        row = {
            "at": self.at,
            "user_id": self.user_id,
            "kind": kind,
            "scenario": self.scenario,
            "step": self.step,
            "code": None,
            "value": None,
        }
        row.update(fields)
        self.dataset.events.append(row)

    def enter(self, step: str) -> None:
        if step != self.step:  # enter_step writes an event only for a different step
            self.step = step
            self.event("step")

    def side_event(self, kind: str, **fields: Any) -> None:
        if self.rng.random() >= 0.25:
            self.wait(3)
        self.event(kind, **fields)

    def handoff(self) -> None:
        if self.has_ticket:
            return
        self.has_ticket = True
        self.side_event("handoff")
        opened_at, rng = self.at, self.rng
        answered = rng.random() < 0.9
        responder = rng.choice(OPERATORS) if answered else None
        closed = answered and rng.random() < 0.85
        rating = rng.choices(RATINGS, RATING_WEIGHTS)[0] if closed and rng.random() < 0.7 else None
        ticket = GeneratedTicket(
            user_id=self.user_id,
            opened_at=opened_at,
            scenario=self.scenario,
            step=self.step,
            rating=rating,
            answered_after=rng.lognormvariate(0, 1.0) * 600 if answered else None,
            responder=responder,
            assignee=responder if rng.random() < 0.8 else None,
            closed_after=rng.lognormvariate(0, 0.7) * 1800 if closed else None,
            closed_by_operator=rng.random() < 0.7,
        )
        self.dataset.tickets.append(ticket)
        if rating is not None:
            assert ticket.closed_after is not None
            self.at = opened_at + timedelta(seconds=ticket.closed_after + 20)
            self.event("rating", code=str(rating), value=rating)

    def obstacles(self, at_step: str) -> bool:
        """What may happen on a step before she moves on; False when she gives up here."""
        rng = self.rng
        if at_step in ("Link:code", "Link:password", "Recovery:sms_code") and rng.random() < 0.2:
            self.side_event("refusal", code=f"{at_step.split(':')[1]}_invalid")
        if rng.random() < 0.03:
            self.wait(10)
            self.enter(HELP_STEP)
            self.wait(20)
            self.enter(at_step)
        if rng.random() < 0.02:
            self.handoff()
        return rng.random() >= GIVE_UP.get(at_step, 0.03)

    def walk(self) -> None:
        rng = self.rng
        self.step = "Onboarding:greeting"
        self.event("started")
        for step in ONBOARDING:
            self.wait(8)
            self.enter(step)
            if not self.obstacles(step):
                return
        self.scenario = rng.choices(*zip(*SCENARIO_SHARES, strict=True))[0]
        switch_to_b = self.scenario == "new_profile" and rng.random() < 0.05
        steps = SCENARIO_STEPS[self.scenario]
        index = 0
        while index < len(steps):
            step = steps[index]
            self.wait(SLOW_STEPS.get(step, 15.0))
            self.enter(step)
            if switch_to_b and step == "Link:phone":
                self.scenario, switch_to_b = "existing_profile", False
                steps = SCENARIO_STEPS[self.scenario]
            if step == "Link:password" and rng.random() < 0.06 and not self.recover():
                return
            if not self.obstacles(step):
                return
            if index > 0 and rng.random() < 0.04:  # «Назад», then forward again
                self.wait(5)
                self.enter(steps[index - 1])
                continue
            index += 1
        self.wait(10)
        self.event("linked")

    def recover(self) -> bool:
        for step in RECOVERY_STEPS:
            self.wait(20)
            self.enter(step)
            if not self.obstacles(step):
                return False
        self.wait(5)
        self.enter("Link:password")
        return True


def generate(
    teachers: int, *, start: datetime, spread: timedelta, seed: int = 1, first_user: int = 1
) -> Dataset:
    """Events (sorted by time, as written) and tickets of `teachers` teachers who begin within
    `spread` after `start` (an aware UTC moment)."""
    rng = random.Random(seed)
    dataset = Dataset()
    for offset in range(teachers):
        user_id = first_user + offset
        began = start + timedelta(microseconds=rng.randrange(int(spread.total_seconds() * 1e6)))
        teacher = _Teacher(rng, user_id, began, dataset)
        if rng.random() < 0.01:  # reached the helpdesk without a link dialog (no token)
            teacher.step = None
            teacher.handoff()
        else:
            teacher.walk()
    dataset.events.sort(key=lambda row: row["at"])  # stable: one teacher's ties keep her order
    return dataset


def ticket_rows(tickets: Sequence[GeneratedTicket], now: datetime) -> Iterator[dict[str, Any]]:
    """`helpdesk_tickets` rows as of `now`: what has not happened by then has not happened."""
    for index, ticket in enumerate(tickets):
        answered_at = _after(ticket.opened_at, ticket.answered_after, now)
        closed_at = _after(ticket.opened_at, ticket.closed_after, now)
        if answered_at is None:
            closed_at = None
        yield {
            "user_id": ticket.user_id,
            "chat_id": ticket.user_id,
            "teacher_name": f"Учитель {index}",
            "locale": "ru",
            "scenario": ticket.scenario,
            "step": ticket.step,
            "reason": "help",
            "status": "open" if closed_at is None else "closed",
            "opened_at": ticket.opened_at,
            "closed_at": closed_at,
            "closed_by": None if closed_at is None else _closer(ticket),
            "closed_by_id": ticket.responder[0]
            if closed_at is not None and ticket.closed_by_operator and ticket.responder
            else None,
            "assignee_id": ticket.assignee[0] if ticket.assignee and answered_at else None,
            "assignee_name": ticket.assignee[1] if ticket.assignee and answered_at else None,
            "rating": ticket.rating if closed_at is not None else None,
            "first_response_at": answered_at,
            "first_responder_id": ticket.responder[0] if answered_at and ticket.responder else None,
            "first_responder_name": ticket.responder[1]
            if answered_at and ticket.responder
            else None,
        }


def _after(start: datetime, seconds: float | None, now: datetime) -> datetime | None:
    if seconds is None:
        return None
    moment = start + timedelta(seconds=seconds)
    return moment if moment <= now else None


def _closer(ticket: GeneratedTicket) -> str:
    return "operator" if ticket.closed_by_operator and ticket.responder else "teacher"


async def insert_dataset(
    connection: AsyncConnection, dataset: Dataset, *, now: datetime, chunk: int = 20_000
) -> None:
    """Write the events (in time order, so ids follow time) and the tickets."""
    for first in range(0, len(dataset.events), chunk):
        await connection.execute(insert(AnalyticsEvent), dataset.events[first : first + chunk])
    rows = list(ticket_rows(dataset.tickets, now))
    for first in range(0, len(rows), chunk):
        await connection.execute(insert(Ticket), rows[first : first + chunk])
