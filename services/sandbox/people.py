"""Who lives in the sandbox: the demo teachers (one Telegram user each), operators, the helpdesk."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from services.linking_client import DevAccount
from services.sandbox.botapi import TelegramWorld

SANDBOX_BOT_TOKEN = "7000000001:sandbox-local-token"
HELPDESK_CHAT_ID = -1002000000001
HELPDESK_TITLE = "Поддержка «Сферум»"
FIRST_TEACHER_USER_ID = 100001
OPERATORS = (
    (900001, "Анна", "Соколова", "anna_support"),
    (900002, "Борис", "Ким", "boris_support"),
)


@dataclass
class Teacher:
    """A demo MESH account and the Telegram user who plays that teacher."""

    user_id: int
    mesh_account_id: str
    full_name: str
    phone: str
    email: str | None
    vk_password: str | None
    case: str
    vpn: bool = False

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Cast:
    teachers: list[Teacher]
    operators: list[dict[str, Any]]
    helpdesk_chat_id: int

    def teacher(self, *, user_id: int | None = None, mesh_account_id: str | None = None) -> Teacher:
        for teacher in self.teachers:
            if teacher.user_id == user_id or teacher.mesh_account_id == mesh_account_id:
                return teacher
        raise KeyError(user_id or mesh_account_id)


def split_full_name(full_name: str) -> tuple[str, str | None]:
    """«Иванова Мария Петровна» → first name «Мария», last name «Иванова» (as Telegram shows)."""
    parts = full_name.split()
    if len(parts) >= 2:
        return parts[1], parts[0]
    return (parts[0] if parts else "Учитель"), None


def populate(world: TelegramWorld, accounts: list[DevAccount]) -> Cast:
    """Create one Telegram user per demo account, the operators and the helpdesk supergroup."""
    teachers = []
    for index, account in enumerate(accounts):
        user_id = FIRST_TEACHER_USER_ID + index
        first_name, last_name = split_full_name(account.full_name)
        world.add_user(user_id, first_name, last_name, language_code="ru", phone=account.phone)
        teachers.append(
            Teacher(
                user_id=user_id,
                mesh_account_id=account.mesh_account_id,
                full_name=account.full_name,
                phone=account.phone,
                email=account.email,
                vk_password=account.vk_password,
                case=str(account.case),
                vpn=str(account.case) == "vpn",
            )
        )
    operators = [
        world.add_user(user_id, first, last, username=username, language_code="ru")
        for user_id, first, last, username in OPERATORS
    ]
    world.add_forum_supergroup(
        HELPDESK_CHAT_ID,
        HELPDESK_TITLE,
        {operators[0]["id"]: "creator", **{op["id"]: "administrator" for op in operators[1:]}},
    )
    return Cast(teachers=teachers, operators=operators, helpdesk_chat_id=HELPDESK_CHAT_ID)
