"""The backend's limits, built from the settings, and the checks that spend them.

Every code sent and every wrong code is counted per destination (phone number, e-mail address,
or the VK ID for the code-generator app) and per caller (end user, API key), whichever flow or
recovery it came from and whichever channel it used: a new flow, another number in between, a
new recovery or a channel switch never starts a fresh budget. docs/security.md gives the values
and the guessing bound they imply.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from services.linking.budgets import (
    CODE_SENT,
    RECOVERY_STARTED,
    WRONG_CODE,
    WRONG_PASSWORD,
    Budgets,
    Limit,
)
from services.linking.callers import Caller
from services.linking.errors import ConfirmationLocked, PasswordLocked, RateLimited
from services.linking.settings import LinkingSettings

HOUR, DAY = 3600, 24 * 3600


class Limits:
    """The configured limits and the checks that spend them, inside the caller's transaction."""

    def __init__(self, settings: LinkingSettings, budgets: Budgets) -> None:
        self.budgets = budgets
        s = settings
        self.destination_codes = (
            Limit("destination_codes_per_hour", CODE_SENT, s.destination_codes_per_hour, HOUR),
            Limit("destination_codes_per_day", CODE_SENT, s.destination_codes_per_day, DAY),
        )
        self.destination_wrong_codes = Limit(
            "destination_wrong_codes_per_day", WRONG_CODE, s.destination_wrong_codes_per_day, DAY
        )
        self.end_user_codes = (
            Limit("end_user_codes_per_hour", CODE_SENT, s.end_user_codes_per_hour, HOUR),
            Limit("end_user_codes_per_day", CODE_SENT, s.end_user_codes_per_day, DAY),
        )
        self.end_user_wrong_codes = Limit(
            "end_user_wrong_codes_per_day", WRONG_CODE, s.end_user_wrong_codes_per_day, DAY
        )
        self.api_key_codes = Limit(
            "api_key_codes_per_hour", CODE_SENT, s.api_key_codes_per_hour, HOUR
        )
        self.account_recoveries = Limit(
            "account_recoveries_per_day", RECOVERY_STARTED, s.account_recoveries_per_day, DAY
        )
        self.client_passwords = Limit(
            "password_max_attempts",
            WRONG_PASSWORD,
            s.password_max_attempts,
            s.password_lock_seconds,
        )
        self.account_passwords = Limit(
            "account_wrong_passwords_per_day",
            WRONG_PASSWORD,
            s.account_wrong_passwords_per_day,
            DAY,
        )

    # ------------------------------------------------------------------- subjects

    def _destination(self, destination: str) -> str:
        return self.budgets.subject("destination", destination)

    def _end_user(self, caller: Caller) -> str:
        return self.budgets.subject("end_user", caller.end_user)

    def _client(self, caller: Caller) -> str:
        return self.budgets.subject("client", caller.client)

    def _account(self, account_id: str) -> str:
        return self.budgets.subject("account", account_id)

    def _account_client(self, account_id: str, caller: Caller) -> str:
        return self.budgets.subject("account_end_user", f"{account_id}:{caller.end_user}")

    # ------------------------------------------------------------------- codes

    async def before_sending(
        self, session: AsyncSession, destination: str, caller: Caller, now: datetime
    ) -> None:
        """Refuse a new code for a locked destination or beyond any code quota."""
        destination_subject = self._destination(destination)
        end_user, client = self._end_user(caller), self._client(caller)
        await self.budgets.hold(session, (destination_subject, end_user, client), now)
        quotas = (
            *((destination_subject, limit) for limit in self.destination_codes),
            *((end_user, limit) for limit in self.end_user_codes),
            (client, self.api_key_codes),
        )
        locked, *waits = await self.budgets.waits(
            session, ((destination_subject, self.destination_wrong_codes), *quotas), now
        )
        if locked:
            raise ConfirmationLocked(retry_after=locked)
        _refuse_beyond(zip(waits, (limit for _subject, limit in quotas), strict=True))

    async def sent(
        self, session: AsyncSession, destination: str, caller: Caller, now: datetime
    ) -> None:
        """Count a code sent to `destination` on behalf of `caller`."""
        subjects = (self._destination(destination), self._end_user(caller), self._client(caller))
        await self.budgets.record(session, subjects, CODE_SENT, now)

    async def before_checking(
        self, session: AsyncSession, destination: str, caller: Caller, now: datetime
    ) -> None:
        """Refuse to check a code for a locked destination or from an end user out of tries."""
        destination_subject, end_user = self._destination(destination), self._end_user(caller)
        await self.budgets.hold(session, (destination_subject, end_user), now)
        locked, tries = await self.budgets.waits(
            session,
            (
                (destination_subject, self.destination_wrong_codes),
                (end_user, self.end_user_wrong_codes),
            ),
            now,
        )
        if locked:
            raise ConfirmationLocked(retry_after=locked)
        _refuse_beyond(((tries, self.end_user_wrong_codes),))

    async def wrong_code(
        self, session: AsyncSession, destination: str, caller: Caller, now: datetime
    ) -> None:
        """Count a wrong code; the one that reaches the limit locks the destination."""
        destination_subject = self._destination(destination)
        subjects = (destination_subject, self._end_user(caller))
        await self.budgets.record(session, subjects, WRONG_CODE, now)
        wait = await self.budgets.wait(
            session, destination_subject, self.destination_wrong_codes, now
        )
        if wait:
            raise ConfirmationLocked(retry_after=wait, keeps_changes=True)

    # ------------------------------------------------------------------- VK ID

    async def start_recovery(self, session: AsyncSession, account_id: str, now: datetime) -> None:
        """Spend one of the VK ID's recoveries of the day, or refuse with `rate_limited`."""
        subject = self._account(account_id)
        await self.budgets.hold(session, (subject,), now)
        [wait] = await self.budgets.waits(session, ((subject, self.account_recoveries),), now)
        _refuse_beyond(((wait, self.account_recoveries),))
        await self.budgets.record(session, (subject,), RECOVERY_STARTED, now)

    async def before_password(
        self,
        session: AsyncSession,
        account_id: str,
        caller: Caller,
        now: datetime,
        since: datetime | None,
    ) -> None:
        """Refuse while this end user's lock or the VK ID's daily lock lasts."""
        own, account = self._account_client(account_id, caller), self._account(account_id)
        await self.budgets.hold(session, (own, account), now)
        checks = ((own, self.client_passwords), (account, self.account_passwords))
        for wait in await self.budgets.waits(session, checks, now, since=since):
            if wait:
                raise PasswordLocked(retry_after=wait, keeps_changes=False)

    async def wrong_password(
        self,
        session: AsyncSession,
        account_id: str,
        caller: Caller,
        now: datetime,
        since: datetime | None,
    ) -> int:
        """Count a wrong password; return the end user's attempts left, or raise the lock."""
        own, account = self._account_client(account_id, caller), self._account(account_id)
        await self.budgets.record(session, (own, account), WRONG_PASSWORD, now)
        checks = ((own, self.client_passwords), (account, self.account_passwords))
        counted = await self.budgets.counted(session, checks, now, since=since)
        for wait, _used in counted:
            if wait:
                raise PasswordLocked(retry_after=wait)
        _wait, used = counted[0]
        return self.client_passwords.max_events - used

    async def right_password(self, session: AsyncSession, account_id: str, caller: Caller) -> None:
        """The end user knows the password: their series of wrong ones ends (the VK ID's not)."""
        await self.budgets.clear(session, self._account_client(account_id, caller), WRONG_PASSWORD)


def _refuse_beyond(waits: Iterable[tuple[int, Limit]]) -> None:
    """Refuse with the longest wait among the spent limits (when all have room again)."""
    wait, limit = max(waits, key=lambda pair: pair[0])
    if wait:
        raise RateLimited(wait, limit.name)
