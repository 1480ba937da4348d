"""Who may act on tickets in the helpdesk group: answer a teacher, /take, /close, /note, /reply,
/queue and the card's buttons.

An operator is a user listed in `HELPDESK_OPERATOR_IDS`, or an administrator (or the creator) of
the helpdesk group; the group's anonymous administrator (a message sent as the group) too. Being a
plain member of the group is not enough: a group is easy to be added to, and whoever acts here
reaches teachers.

Administrator status is asked from Telegram (`getChatMember`) and trusted for `RIGHTS_TTL`
seconds, positive and negative answers alike (a stranger typing in the group does not cost a call
per message). A `chat_member` update about a user of the helpdesk group — left, kicked, demoted,
promoted — drops that user's answer at once, so removing an operator takes effect on the very next
action in this process; other replicas (which did not receive the update) ask again within
`RIGHTS_TTL`. The cache holds at most `RIGHTS_CACHE_SIZE` users (least recently asked go first).
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable, Iterable

from aiogram import Bot
from aiogram.enums import ChatMemberStatus
from aiogram.exceptions import TelegramAPIError
from aiogram.types import Chat, User

RIGHTS_TTL = 60.0  # seconds a getChatMember answer is trusted
RIGHTS_CACHE_SIZE = 1_000
_ADMIN_STATUSES = {ChatMemberStatus.CREATOR, ChatMemberStatus.ADMINISTRATOR}


class OperatorRights:
    def __init__(
        self,
        chat_id: int | None,
        operator_ids: Iterable[int] = (),
        *,
        ttl: float = RIGHTS_TTL,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.chat_id = chat_id
        self.operator_ids = frozenset(operator_ids)
        self.ttl = ttl
        self._monotonic = monotonic
        self._admins: OrderedDict[int, tuple[bool, float]] = OrderedDict()

    async def allows(self, bot: Bot, user: User | None, sender_chat: Chat | None = None) -> bool:
        """Whether this sender may act on tickets in the helpdesk group."""
        if self.chat_id is None:
            return False
        if sender_chat is not None:  # only administrators can write as the group itself
            return sender_chat.id == self.chat_id
        if user is None or user.is_bot:
            return False
        if user.id in self.operator_ids:
            return True
        return await self._is_admin(bot, user.id)

    def forget(self, user_id: int) -> None:
        """Her status changed in the group: ask Telegram again next time."""
        self._admins.pop(user_id, None)

    @property
    def cached(self) -> int:
        return len(self._admins)

    async def _is_admin(self, bot: Bot, user_id: int) -> bool:
        assert self.chat_id is not None
        now = self._monotonic()
        cached = self._admins.get(user_id)
        if cached is not None and cached[1] > now:
            return cached[0]
        try:
            member = await bot.get_chat_member(self.chat_id, user_id)
        except TelegramAPIError:
            return False  # not cached: Telegram may answer next time
        allowed = getattr(member, "status", None) in _ADMIN_STATUSES
        self._admins[user_id] = (allowed, now + self.ttl)
        self._admins.move_to_end(user_id)
        while len(self._admins) > RIGHTS_CACHE_SIZE:
            self._admins.popitem(last=False)
        return allowed
