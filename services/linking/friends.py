"""A VK ID's trusted friends, simulated: who they are and where their codes go.

VK ID's «С помощью друзей, которым доверяете»: each trusted friend gets a code; the teacher asks
them outside VK (a call, another messenger) and enters every code. The simulation knows only how
many trusted friends an account has (`VkAccount.trusted_friends`); the friends themselves are
made up from the account's id, the same ones every time. Each friend is a destination of their
own ("friend:<VK ID>:<n>"), so a friend's codes, cooldowns and wrong guesses are budgeted like
a phone number's (limits.py).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from services.linking.models import VkAccount

FRIENDS_ASKED = 3
"""At most this many trusted friends are asked, and every one of them must give their code."""

DESTINATION_PREFIX = "friend:"

_NAMES = (
    "Ольга К.", "Игорь С.", "Наталья В.", "Михаил Л.", "Светлана П.", "Андрей Н.",
    "Татьяна Ж.", "Павел Д.", "Ирина Г.", "Сергей Ф.", "Елена Ш.", "Виктор Б.",
)  # fmt: skip


@dataclass(frozen=True)
class Friend:
    index: int  # 0, 1, 2: the order the window lists them in
    name: str  # as VK ID shows a friend: first name and the initial of the surname
    destination: str


def friends_of(account: VkAccount) -> list[Friend]:
    """The trusted friends asked for `account` (up to FRIENDS_ASKED), always the same ones."""
    count = min(FRIENDS_ASKED, account.trusted_friends)
    start = int.from_bytes(hashlib.sha256(account.id.encode()).digest()[:2], "big")
    return [
        Friend(n, _NAMES[(start + n) % len(_NAMES)], f"{DESTINATION_PREFIX}{account.id}:{n}")
        for n in range(count)
    ]


def friend_name(destination: str, account: VkAccount | None) -> str | None:
    """The name of the friend a code went to, for the view (None if not a friend's)."""
    if account is None or not destination.startswith(DESTINATION_PREFIX):
        return None
    return next((f.name for f in friends_of(account) if f.destination == destination), None)
