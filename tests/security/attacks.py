"""A stranger with his own e-journal account, as many Telegram accounts as he likes, and a script.

He attacks the real backend over HTTP on loopback and takes the backend at its word: told to
wait (`retry_after`), he moves the FakeClock exactly that far and goes on — the fastest any
attacker can go. The `Ledger` counts what he got: every guess the backend actually checked (a
challenge's attempts went down, seen by reading the flow or recovery before and after) and
every code delivered to the victim's phone.

His guesses are chosen to be wrong (no code delivered to the phone recently has that value), so
a run measures how many guesses the backend lets through, never luck.
"""

from __future__ import annotations

import itertools
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from services.clock import FakeClock
from tests.linking.http_api import Api, Reply, api_session

HOUR, DAY = 3600, 24 * 3600

# The victim: signed in to VK Messenger, so no password is asked before the call.
VICTIM = "profile_exists_authorised"
# The stranger's own e-journal account.
STRANGER = "no_vkid"
FIRST_STRANGER_ID = 900_001


def most_in_any_window(times: list[datetime], seconds: int) -> int:
    """The largest number of `times` inside any window of `seconds` (half-open)."""
    ordered = sorted(times)
    most, start = 0, 0
    for end, moment in enumerate(ordered):
        while moment - ordered[start] >= timedelta(seconds=seconds):
            start += 1
        most = max(most, end - start + 1)
    return most


def unused_code(length: int, delivered: set[str]) -> str:
    """A code of `length` digits that no recent delivery had: a guess that is surely wrong."""
    return next(code for n in range(10**length) if (code := f"{n:0{length}d}") not in delivered)


@dataclass
class Ledger:
    checked: list[datetime] = field(default_factory=list)  # wrong guesses the backend checked
    refusals: Counter[str] = field(default_factory=Counter)
    limits: Counter[str] = field(default_factory=Counter)  # rate_limited, by the limit's name


class Stranger:
    """The attacker's state: current Telegram identity, its flow, what he has got."""

    def __init__(
        self, url: str, clock: FakeClock, stack: AsyncExitStack, mesh_account_id: str, victim: str
    ) -> None:
        self.url, self.clock, self._stack = url, clock, stack
        self.mesh_account_id, self.victim = mesh_account_id, victim
        self.ledger = Ledger()
        self._ids = itertools.count(FIRST_STRANGER_ID)
        self._own_numbers = (f"+7999{n:07d}" for n in itertools.count(1))
        self.api: Api
        self.flow_id: str | None = None
        self.identities = 0
        self.turns = 0

    async def new_identity(self) -> None:
        """Another Telegram account: quotas per end user start afresh (per number they do not)."""
        session = await self._stack.enter_async_context(api_session(self.url, str(next(self._ids))))
        self.api = Api(session, self.clock)
        self.flow_id = None
        self.identities += 1

    def own_number(self) -> str:
        return next(self._own_numbers)

    async def open_flow(self) -> str:
        """A fresh link from his own e-journal, redeemed by his current Telegram account."""
        token = await self.api.token(self.mesh_account_id)
        flow = await self.api.ok("POST", "/v1/flows", {"token": token}, status=201)
        self.flow_id = flow["flow_id"]
        return self.flow_id

    async def say_my_number_is(self, phone: str) -> None:
        """Worst case: his own e-journal lets him confirm any number as his."""
        await self.api.confirm_phone(self.mesh_account_id, phone)

    def wait_as_told(self, reply: Reply) -> None:
        self.clock.advance(max(1, int(reply.error.get("retry_after") or 0)))

    def note(self, reply: Reply) -> None:
        code = reply.error["code"]
        self.ledger.refusals[code] += 1
        if code == "rate_limited":
            self.ledger.limits[reply.error["limit"]] += 1

    async def guess(self, owner_path: str, attempts: int) -> Reply | None:
        """Up to `attempts` wrong guesses at the owner's current code; the refusal that stops
        him early, if any."""
        for _ in range(attempts):
            before = (await self.api.call("GET", owner_path)).body.get("challenge")
            if not before:
                return None
            delivered = {item["code"] for item in await self.api.inbox(self.victim)}
            guess = unused_code(before["code_length"], delivered)
            reply = await self.api.call("POST", f"{owner_path}/code/verify", {"code": guess})
            assert reply.status != 200, "a wrong guess was accepted"
            after = (await self.api.call("GET", owner_path)).body.get("challenge")
            if after is not None and after["attempts_left"] < before["attempts_left"]:
                self.ledger.checked.append(self.clock.now())
            if reply.error["code"] not in ("code_invalid", "code_burnt"):
                self.note(reply)
                return reply
            if reply.error["code"] == "code_burnt":
                return None
        return None

    async def delivered_to_victim(self) -> list[datetime]:
        return [
            datetime.fromisoformat(item["at"].replace("Z", "+00:00"))
            for item in await self.api.inbox(self.victim)
        ]


# A way to get a fresh code sent to the victim: the owner's path to guess at, or the refusal.
CodePath = Callable[[Stranger], Awaitable["str | Reply"]]


async def by_new_flow(stranger: Stranger) -> str | Reply:
    """A new link from his e-journal each time, the victim's number in the phone window."""
    await stranger.say_my_number_is(stranger.victim)
    flow_id = await stranger.open_flow()
    reply = await stranger.api.call(
        "POST", f"/v1/flows/{flow_id}/phone", {"phone": stranger.victim}
    )
    return f"/v1/flows/{flow_id}" if reply.status == 200 else reply


async def by_restarting(stranger: Stranger) -> str | Reply:
    """«Начать заново» on his flow (no new link), then the victim's number in the fresh one."""
    await stranger.say_my_number_is(stranger.victim)
    flow_id = stranger.flow_id or await stranger.open_flow()
    reply = await stranger.api.call("POST", f"/v1/flows/{flow_id}/restart", {})
    if reply.status != 201:
        return reply
    stranger.flow_id = flow_id = reply.body["flow_id"]
    reply = await stranger.api.call(
        "POST", f"/v1/flows/{flow_id}/phone", {"phone": stranger.victim}
    )
    return f"/v1/flows/{flow_id}" if reply.status == 200 else reply


async def by_switching_numbers(stranger: Stranger) -> str | Reply:
    """The attack of the issue: another number, then the victim's again, in one flow."""
    flow_id = stranger.flow_id or await stranger.open_flow()
    phone_path = f"/v1/flows/{flow_id}/phone"
    other = stranger.own_number()
    await stranger.say_my_number_is(other)
    reply = await stranger.api.call("POST", phone_path, {"phone": other})
    if reply.status != 200 and reply.error["code"] == "rate_limited":
        return reply
    await stranger.say_my_number_is(stranger.victim)
    reply = await stranger.api.call("POST", phone_path, {"phone": stranger.victim})
    return f"/v1/flows/{flow_id}" if reply.status == 200 else reply


async def by_switching_channels(stranger: Stranger) -> str | Reply:
    """One flow at the code step, asking for SMS and calls in turn."""
    if stranger.flow_id is None:
        return await by_new_flow(stranger)  # the first code: the phone step's call
    stranger.turns += 1
    channel = ("call", "sms")[stranger.turns % 2]
    flow_path = f"/v1/flows/{stranger.flow_id}"
    reply = await stranger.api.call("POST", f"{flow_path}/code", {"channel": channel})
    return flow_path if reply.status == 200 else reply


async def by_new_recovery(stranger: Stranger) -> str | Reply:
    """«Забыли пароль?» for the victim's number: an SMS each time."""
    reply = await stranger.api.call("POST", "/v1/recoveries", {"phone": stranger.victim})
    return f"/v1/recoveries/{reply.body['recovery_id']}" if reply.status == 201 else reply


async def run_attack(
    stranger: Stranger,
    paths: list[CodePath],
    hours: int,
    attempts: int,
    *,
    until: str | None = None,
) -> None:
    """Get codes to the victim by `paths` in turn and guess each, for `hours` of clock time
    (or until the refusal `until`, without waiting it out)."""
    end = stranger.clock.now() + timedelta(hours=hours)
    for path in itertools.cycle(paths):
        if stranger.clock.now() >= end:
            return
        got = await path(stranger)
        if isinstance(got, str):
            got = await stranger.guess(got, attempts)
            if got is None:
                continue
        else:
            stranger.note(got)
        if got.error["code"] == until:
            return
        if got.error["code"] == "rate_limited" and got.error["limit"].startswith("end_user"):
            await stranger.new_identity()  # per-user quota spent: another Telegram account
        elif got.error["code"] in ("wrong_state", "flow_expired"):
            stranger.flow_id = None  # this flow is done with: the next path opens another
        else:
            stranger.wait_as_told(got)


@asynccontextmanager
async def stranger_against(
    url: str, clock: FakeClock, victim_phone: str
) -> AsyncIterator[Stranger]:
    async with AsyncExitStack() as stack:
        session = await stack.enter_async_context(api_session(url, "1"))
        mesh_account_id = (await Api(session, clock).teacher(STRANGER))["mesh_account_id"]
        stranger = Stranger(url, clock, stack, mesh_account_id, victim_phone)
        await stranger.new_identity()
        yield stranger


def chance_of_a_right_guess(guesses: int, code_length: int) -> float:
    """Union bound: each guess hits a uniformly random code with probability 10**-length."""
    return guesses / 10**code_length


def describe(ledger: Ledger) -> dict[str, Any]:
    """What a failing assertion shows."""
    return {"checked": len(ledger.checked), "refusals": dict(ledger.refusals)}
