"""Where codes "arrive": every call, SMS and e-mail is recorded like a phone or mailbox would.

In demo mode the record keeps the code and the text, for the dev inbox (the sandbox's phone).
Otherwise codes exist only as digests: a delivery records its channel, destination and time.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import bindparam, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.linking.models import Delivery
from services.linking.phones import format_phone

CALL_TEXT = "Звонок-сброс с номера {number}. Введите последние {length} цифры."
SMS_TEXT = "Код подтверждения VK ID: {code}. Никому его не сообщайте."
EMAIL_TEXT = (
    "Код для восстановления доступа к VK ID: {code}. Никому его не сообщайте. "
    "Если вы не запрашивали код, просто проигнорируйте это письмо."
)

FRIEND_TEXT = (
    "{name} восстанавливает доступ к VK ID и просит вас подтвердить, что это он или она. "
    "Если {name} сам(а) попросил(а) вас об этом — по телефону или при встрече, — продиктуйте "
    "код: {code}. Если нет, никому его не сообщайте."
)


class Deliveries:
    """The simulated telephone network and mail server; `keep_codes` only in demo mode."""

    def __init__(self, *, keep_codes: bool) -> None:
        self._keep_codes = keep_codes

    async def call(
        self, session: AsyncSession, phone: str, calling_number: str, code: str, now: datetime
    ) -> None:
        text = CALL_TEXT.format(number=format_phone(calling_number), length=len(code))
        self._record(session, "call", phone, code, text, now)

    async def sms(self, session: AsyncSession, phone: str, code: str, now: datetime) -> None:
        self._record(session, "sms", phone, code, SMS_TEXT.format(code=code), now)

    async def email(self, session: AsyncSession, email: str, code: str, now: datetime) -> None:
        self._record(session, "email", email, code, EMAIL_TEXT.format(code=code), now)

    async def friend(
        self, session: AsyncSession, destination: str, code: str, name: str, now: datetime
    ) -> None:
        """A code for a trusted friend of the VK ID `name` (masked) that is being recovered."""
        text = FRIEND_TEXT.format(name=name or "Ваш друг", code=code)
        self._record(session, "friend", destination, code, text, now)

    def _record(
        self,
        session: AsyncSession,
        channel: str,
        destination: str,
        code: str,
        text: str,
        now: datetime,
    ) -> None:
        kept = self._keep_codes
        session.add(
            Delivery(
                channel=channel,
                destination=destination,
                code=code if kept else None,
                text=text if kept else None,
                created_at=now,
            )
        )

    async def received(
        self, session: AsyncSession, destination: str, channels: tuple[str, ...]
    ) -> list[Delivery]:
        """Everything that reached `destination` on these channels, oldest first."""
        rows = await session.scalars(
            _RECEIVED, {"destination": destination, "channels": list(channels)}
        )
        return list(rows)


# The dev inbox's read, built once (no statement building or cache key per request).
_RECEIVED = (
    select(Delivery)
    .where(
        Delivery.destination == bindparam("destination"),
        Delivery.channel.in_(bindparam("channels", expanding=True)),
    )
    .order_by(Delivery.created_at, Delivery.id)
)
