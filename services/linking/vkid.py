"""VK ID accounts: look-up by phone, password check with lock, device sessions, profiles."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from services.linking.codes import seconds_until
from services.linking.errors import PasswordLocked, WrongPassword
from services.linking.models import DeviceSession, SferumProfile, VkAccount
from services.linking.passwords import PasswordHashing
from services.linking.settings import LinkingSettings

MESSENGER_CLIENT = "vk_messenger"
# The device the teacher goes through the VK ID windows on (the bot's simulated browser).
LINKING_CLIENT = "vk_id_web"


class VkIdAccounts:
    """Rules of VK ID that flows and recoveries share."""

    def __init__(self, settings: LinkingSettings, hashing: PasswordHashing) -> None:
        self._settings = settings
        self._hashing = hashing

    @staticmethod
    async def by_phone(session: AsyncSession, phone: str) -> VkAccount | None:
        return await session.scalar(select(VkAccount).where(VkAccount.phone == phone))

    @staticmethod
    async def profile_for_phone(session: AsyncSession, phone: str) -> SferumProfile | None:
        return await session.scalar(select(SferumProfile).where(SferumProfile.phone == phone))

    @staticmethod
    async def messenger_authorised(session: AsyncSession, account: VkAccount) -> bool:
        """Whether VK Messenger is signed in with this VK ID on some device (seed B, step 3)."""
        found = await session.scalar(
            select(DeviceSession.id)
            .where(
                DeviceSession.vk_account_id == account.id,
                DeviceSession.client == MESSENGER_CLIENT,
                DeviceSession.ended_at.is_(None),
            )
            .limit(1)
        )
        return found is not None

    def check_password(self, account: VkAccount, password: str, now: datetime) -> None:
        """Accept the right password, count wrong ones and lock after too many.

        The lock is per account, like the real service: while it lasts even the right password
        is refused with `password_locked` and `retry_after`.
        """
        locked_until = account.password_locked_until
        if locked_until is not None and now < locked_until:
            raise PasswordLocked(retry_after=seconds_until(locked_until, now))
        if locked_until is not None:  # the lock has run out: a fresh series of attempts
            account.password_locked_until = None
            account.failed_password_attempts = 0
        if self._hashing.verify(account.password_hash, password):
            account.failed_password_attempts = 0
            return
        account.failed_password_attempts += 1
        left = self._settings.password_max_attempts - account.failed_password_attempts
        if left <= 0:
            lock = timedelta(seconds=self._settings.password_lock_seconds)
            account.password_locked_until = now + lock
            raise PasswordLocked(retry_after=self._settings.password_lock_seconds)
        raise WrongPassword(attempts_left=left)

    def set_password(self, account: VkAccount, password: str) -> None:
        account.password_hash = self._hashing.hash(password)
        account.failed_password_attempts = 0
        account.password_locked_until = None

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
        return result.rowcount
