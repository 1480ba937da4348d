"""VK ID accounts: look-up by phone, password check with lock, device sessions, profiles."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import bindparam, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from services.linking.callers import Caller
from services.linking.db import execute_core, rows_affected, table
from services.linking.errors import WrongPassword
from services.linking.limits import Limits
from services.linking.models import DeviceSession, SferumProfile, VkAccount
from services.linking.passwords import PasswordHashing

MESSENGER_CLIENT = "vk_messenger"
# The device the teacher goes through the VK ID windows on (the bot's simulated browser).
LINKING_CLIENT = "vk_id_web"

# Look-ups of every flow view, built once (no statement building or cache key per request).
_BY_PHONE = select(VkAccount).where(VkAccount.phone == bindparam("phone"))
_PROFILE_FOR_PHONE = select(SferumProfile).where(SferumProfile.phone == bindparam("phone"))
_DEVICE_SESSIONS = table(DeviceSession)
_MESSENGER_SESSION = (  # on the table: `db.execute_core`
    select(_DEVICE_SESSIONS.c.id)
    .where(
        _DEVICE_SESSIONS.c.vk_account_id == bindparam("account_id"),
        _DEVICE_SESSIONS.c.client == MESSENGER_CLIENT,
        _DEVICE_SESSIONS.c.ended_at.is_(None),
    )
    .limit(1)
)


class VkIdAccounts:
    """Rules of VK ID that flows and recoveries share."""

    def __init__(self, hashing: PasswordHashing, limits: Limits) -> None:
        self._hashing = hashing
        self._limits = limits

    @staticmethod
    async def by_phone(session: AsyncSession, phone: str) -> VkAccount | None:
        return await session.scalar(_BY_PHONE, {"phone": phone})

    @staticmethod
    async def profile_for_phone(session: AsyncSession, phone: str) -> SferumProfile | None:
        return await session.scalar(_PROFILE_FOR_PHONE, {"phone": phone})

    @staticmethod
    async def messenger_authorised(session: AsyncSession, account: VkAccount) -> bool:
        """Whether VK Messenger is signed in with this VK ID on some device (seed B, step 3)."""
        found = (
            await execute_core(session, _MESSENGER_SESSION, {"account_id": account.id})
        ).scalar()
        return found is not None

    async def check_password(
        self,
        session: AsyncSession,
        account: VkAccount,
        password: str,
        caller: Caller,
        now: datetime,
    ) -> None:
        """Accept the right password, count wrong ones and lock after too many.

        Two locks, so that a stranger cannot lock the teacher out: `password_max_attempts` wrong
        passwords from one end user lock that end user out of this VK ID for
        `password_lock_seconds`; only `account_wrong_passwords_per_day` from everyone lock the
        VK ID itself, until the oldest of them is a day old. While a lock lasts even the right
        password is refused with `password_locked` and `retry_after`. A finished recovery
        (a new password) lifts both.
        """
        since = account.password_changed_at
        await self._limits.before_password(session, account.id, caller, now, since)
        if await self._hashing.verify(account.password_hash, password):
            await self._limits.right_password(session, account.id, caller)
            return
        left = await self._limits.wrong_password(session, account.id, caller, now, since)
        raise WrongPassword(attempts_left=left)

    async def set_password(self, account: VkAccount, password: str, now: datetime) -> None:
        """A new password (recovery): every earlier wrong password stops counting."""
        account.password_hash = await self._hashing.hash(password)
        account.password_changed_at = now

    @staticmethod
    def open_session(
        session: AsyncSession, account: VkAccount, client: str, device: str, now: datetime
    ) -> DeviceSession:
        device_session = DeviceSession(
            id=f"ds-{uuid.uuid4().hex}",
            vk_account_id=account.id,
            client=client,
            device=device,
            created_at=now,
            ended_at=None,
        )
        session.add(device_session)
        return device_session

    @staticmethod
    async def end_other_sessions(
        session: AsyncSession, account: VkAccount, keep_session_id: str, now: datetime
    ) -> int:
        """«Выйти на всех устройствах, кроме этого»: end every session but `keep_session_id`."""
        result = await session.execute(
            update(DeviceSession)
            .where(
                DeviceSession.vk_account_id == account.id,
                DeviceSession.id != keep_session_id,
                DeviceSession.ended_at.is_(None),
            )
            .values(ended_at=now)
            .execution_options(synchronize_session=False)
        )
        return rows_affected(result)
