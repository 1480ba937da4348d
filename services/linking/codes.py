"""Verification challenges: issue, resend cooldown, attempts, burn, atomic verification.

A challenge belongs to one owner (a flow's login, a recovery's SMS, a recovery's method) and
has its own attempts; the cooldown and every budget belong to its destination (see limits.py),
so they hold across owners.
"""

from __future__ import annotations

import hashlib
import hmac
import math
import secrets
import uuid
from datetime import datetime, timedelta

import pyotp
from sqlalchemy import and_, bindparam, case, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.attributes import set_committed_value

from services.linking.callers import Caller
from services.linking.db import execute_core, rows_affected, table
from services.linking.delivery import Deliveries
from services.linking.errors import (
    CodeBurnt,
    CodeExpired,
    CodeInvalid,
    NoActiveCode,
    ResendTooEarly,
)
from services.linking.limits import Limits
from services.linking.models import Challenge
from services.linking.settings import LinkingSettings

CHANNELS = ("call", "sms", "email", "totp", "friend")
_ISSUED = "challenges_issued"  # session.info: the challenges this transaction issued, in order


def issued_in(session: AsyncSession, owner_kind: str, owner_id: str) -> Challenge | None:
    """The newest challenge this session's transaction issued for the owner, if any.

    Issuing takes the owner's next serial, so it is also the owner's newest challenge.
    """
    for challenge in reversed(session.info.get(_ISSUED, ())):
        if challenge.owner_kind == owner_kind and challenge.owner_id == owner_id:
            return challenge
    return None


def seconds_until(moment: datetime | None, now: datetime) -> int:
    """Whole seconds from `now` to `moment`, rounded up; 0 when it has passed."""
    if moment is None:
        return 0
    return max(0, math.ceil((moment - now).total_seconds()))


def random_digits(length: int) -> str:
    return "".join(str(secrets.randbelow(10)) for _ in range(length))


class Challenges:
    """Codes for one owner (a flow's login, a recovery's SMS, a recovery's method)."""

    def __init__(
        self,
        settings: LinkingSettings,
        secret: bytes,
        deliveries: Deliveries,
        limits: Limits,
    ) -> None:
        self._settings = settings
        self._secret = secret
        self._deliveries = deliveries
        self._limits = limits

    def _digest(self, challenge_id: str, code: str) -> str:
        message = f"{challenge_id}:{code}".encode()
        return hmac.new(self._secret, message, hashlib.sha256).hexdigest()

    def _code_length(self, channel: str) -> int:
        return {
            "call": self._settings.call_code_length,
            "sms": self._settings.sms_code_length,
            "email": self._settings.email_code_length,
            "totp": self._settings.totp_code_length,
            "friend": self._settings.sms_code_length,  # a friend's code comes as an SMS
        }[channel]

    def _resend_after(self, channel: str) -> int | None:
        return {
            "call": self._settings.call_code_resend_after,
            "sms": self._settings.sms_code_resend_after,
            "email": self._settings.email_code_resend_after,
            "totp": None,
            "friend": self._settings.sms_code_resend_after,
        }[channel]

    async def latest(
        self, session: AsyncSession, owner_kind: str, owner_id: str
    ) -> Challenge | None:
        """The owner's most recent challenge, whatever its status."""
        issued = issued_in(session, owner_kind, owner_id)
        if issued is not None:
            return issued
        return await session.scalar(_LATEST, {"b_owner_kind": owner_kind, "b_owner_id": owner_id})

    @staticmethod
    async def ensure_cooldown_over(
        session: AsyncSession,
        *,
        owner_kind: str,
        owner_id: str,
        channel: str,
        destination: str,
        now: datetime,
    ) -> None:
        """No new code to `destination` while an earlier unused one's cooldown runs, if it was
        sent on the same channel (by anyone: another flow, recovery or number change) or by the
        same owner (any channel: «Отправить SMS через 1:15» after a call, as in the seed).

        A code that was used proves the destination is the caller's: no wait after it.
        """
        params = {
            "destination": destination,
            "channel": channel,
            "b_owner_kind": owner_kind,
            "b_owner_id": owner_id,
        }
        latest = (await execute_core(session, _COOLDOWN_ENDS, params)).scalar()
        wait = seconds_until(latest, now)
        if wait > 0:
            raise ResendTooEarly(f"A new code can be requested in {wait} s.", retry_after=wait)

    async def end_active(self, session: AsyncSession, owner_kind: str, owner_id: str) -> None:
        """Supersede the owner's live codes (new code, changed number, step left)."""
        owner = {"b_owner_kind": owner_kind, "b_owner_id": owner_id}
        await execute_core(session, _END_ACTIVE, owner)

    async def issue(
        self,
        session: AsyncSession,
        *,
        owner_kind: str,
        owner_id: str,
        channel: str,
        destination: str,
        caller: Caller,
        now: datetime,
        requested_by: str | None = None,
    ) -> Challenge:
        """Send a new code on `channel` (or, for TOTP, expect one) and supersede older ones.

        `destination` is the phone or e-mail, for TOTP "account:<VK ID id>", for a trusted
        friend "friend:<VK ID id>:<n>" (`requested_by`: the masked name the friend is told).
        Refused while the destination's cooldown runs, while it is locked, or beyond any code
        quota.
        """
        if channel != "totp":
            await self._limits.before_sending(session, destination, caller, now)
            await self.ensure_cooldown_over(
                session,
                owner_kind=owner_kind,
                owner_id=owner_id,
                channel=channel,
                destination=destination,
                now=now,
            )
        await self.end_active(session, owner_kind, owner_id)
        owner = {"b_owner_kind": owner_kind, "b_owner_id": owner_id}
        latest_serial = (await execute_core(session, _LATEST_SERIAL, owner)).scalar()
        challenge_id = f"ch-{uuid.uuid4().hex}"
        length = self._code_length(channel)
        code = random_digits(length)
        resend_after = self._resend_after(channel)
        challenge = Challenge(
            id=challenge_id,
            owner_kind=owner_kind,
            owner_id=owner_id,
            serial=(latest_serial or 0) + 1,
            channel=channel,
            destination=destination,
            code_digest=None if channel == "totp" else self._digest(challenge_id, code),
            code_length=length,
            status="active",
            attempts_left=self._settings.code_max_attempts,
            created_at=now,
            expires_at=now + timedelta(seconds=self._settings.code_lifetime),
            resend_available_at=(
                None if resend_after is None else now + timedelta(seconds=resend_after)
            ),
        )
        session.add(challenge)
        session.info.setdefault(_ISSUED, []).append(challenge)
        if channel != "totp":
            await self._limits.sent(session, destination, caller, now)
        if channel == "call":
            # The code is the last digits of a random Russian number that "calls" the teacher.
            calling_number = "+79" + random_digits(9 - length) + code
            await self._deliveries.call(session, destination, calling_number, code, now)
        elif channel == "sms":
            await self._deliveries.sms(session, destination, code, now)
        elif channel == "email":
            await self._deliveries.email(session, destination, code, now)
        elif channel == "friend":
            await self._deliveries.friend(session, destination, code, requested_by or "", now)
        await session.flush()
        return challenge

    def _matches(
        self, challenge: Challenge, code: str, now: datetime, totp_secret: str | None
    ) -> bool:
        if challenge.channel == "totp":
            if totp_secret is None:
                return False
            totp = pyotp.TOTP(totp_secret, digits=challenge.code_length)
            return totp.verify(code, for_time=now, valid_window=1)
        assert challenge.code_digest is not None
        return hmac.compare_digest(challenge.code_digest, self._digest(challenge.id, code))

    async def verify_latest(
        self,
        session: AsyncSession,
        owner_kind: str,
        owner_id: str,
        code: str,
        caller: Caller,
        now: datetime,
        *,
        totp_secret: str | None = None,
    ) -> None:
        """`verify` the code against the owner's latest challenge (none at all: NoActiveCode)."""
        latest = await self.latest(session, owner_kind, owner_id)
        await self.verify(session, latest, code, caller, now, totp_secret=totp_secret)

    async def verify(
        self,
        session: AsyncSession,
        challenge: Challenge | None,
        code: str,
        caller: Caller,
        now: datetime,
        *,
        totp_secret: str | None = None,
    ) -> None:
        """Consume the challenge if `code` is right; otherwise use up an attempt.

        Nothing is checked for a locked destination or an end user out of tries. A wrong code
        counts against the challenge, its destination and the end user; the one that reaches
        the destination's limit answers `confirmation_locked`. Both outcomes are conditional
        UPDATEs on `status = 'active'`: of two concurrent verifications of one code only one
        changes the row, the other sees rowcount 0.
        """
        if challenge is None or challenge.status in ("used", "superseded"):
            raise NoActiveCode()
        if challenge.status == "burnt" or challenge.attempts_left <= 0:
            raise CodeBurnt(attempts_left=0)
        if now >= challenge.expires_at:
            raise CodeExpired()
        await self._limits.before_checking(session, challenge.destination, caller, now)
        live = (
            Challenge.id == challenge.id,
            Challenge.status == "active",
            Challenge.attempts_left > 0,
        )
        if self._matches(challenge, code, now, totp_secret):
            result = await execute_core(session, _USE, {"challenge_id": challenge.id})
            if rows_affected(result) != 1:
                raise NoActiveCode("The code has already been used.")
            set_committed_value(challenge, "status", "used")  # as written: no second UPDATE
            return
        left = await session.scalar(
            update(Challenge)
            .where(*live)
            .values(
                attempts_left=Challenge.attempts_left - 1,
                status=case((Challenge.attempts_left <= 1, "burnt"), else_="active"),
            )
            .returning(Challenge.attempts_left)
            .execution_options(synchronize_session=False)
        )
        if left is None:
            raise NoActiveCode("The code has already been used.")
        await session.refresh(challenge)
        await self._limits.wrong_code(session, challenge.destination, caller, now)
        if left <= 0:
            raise CodeBurnt(attempts_left=0)
        raise CodeInvalid(attempts_left=left)


# The statements of every code sent and checked, built once: SQLAlchemy neither builds them nor
# computes their cache keys per request (bench/README.md, backend CPU, stop 18). An UPDATE's
# parameters may not be named as a column of its table, hence the b_ names.
# Those that load no challenge are built on the table (`db.execute_core`).
_OWNER = (
    Challenge.owner_kind == bindparam("b_owner_kind"),
    Challenge.owner_id == bindparam("b_owner_id"),
)
_LATEST = select(Challenge).where(*_OWNER).order_by(Challenge.serial.desc()).limit(1)
_CHALLENGES = table(Challenge)
_C = _CHALLENGES.c
_OWNER_ROW = (_C.owner_kind == bindparam("b_owner_kind"), _C.owner_id == bindparam("b_owner_id"))
_COOLDOWN_ENDS = select(func.max(_C.resend_available_at)).where(
    _C.destination == bindparam("destination"),
    _C.status != "used",
    or_(_C.channel == bindparam("channel"), and_(*_OWNER_ROW)),
)
_END_ACTIVE = (
    update(_CHALLENGES).where(*_OWNER_ROW, _C.status == "active").values(status="superseded")
)
_LATEST_SERIAL = select(func.max(_C.serial)).where(*_OWNER_ROW)
_USE = (
    update(_CHALLENGES)
    .where(
        _C.id == bindparam("challenge_id"),
        _C.status == "active",
        _C.attempts_left > 0,
    )
    .values(status="used")
)
