"""Who lives in the sandbox: the demo teachers (one Telegram user each), operators, the helpdesk.

The e-journal lists the current set of teachers; «+ Новый учитель» adds one and «Сбросить демо»
replaces the set with fresh ones (one per case). A replaced teacher keeps her Telegram user and
chat (the bot may still be talking to her), she only leaves the e-journal.
"""

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
    """A demo MESH account as the backend knows it now, and the Telegram user playing her."""

    user_id: int
    mesh_account_id: str
    full_name: str
    phone: str
    email: str | None
    vk_password: str | None
    case: str
    vpn: bool = False
    school: str | None = None
    authenticator_app: bool = False
    linked_profile: dict[str, Any] | None = None

    def as_json(self) -> dict[str, Any]:
        return asdict(self)

    def update(self, account: DevAccount) -> None:
        """Take what the backend says now: password, e-mail, VPN, link state."""
        self.full_name = account.full_name
        self.email = account.email
        self.vk_password = account.vk_password
        self.vpn = account.vpn
        self.school = account.school
        self.authenticator_app = account.authenticator_app
        profile = account.linked_profile
        self.linked_profile = None if profile is None else _profile_json(profile)


def _profile_json(profile: Any) -> dict[str, Any]:
    data = asdict(profile)
    data["birth_date"] = profile.birth_date.isoformat()
    return data


@dataclass
class Cast:
    teachers: list[Teacher]
    operators: list[dict[str, Any]]
    helpdesk_chat_id: int
    next_user_id: int = FIRST_TEACHER_USER_ID

    def teacher(self, *, user_id: int | None = None, mesh_account_id: str | None = None) -> Teacher:
        for teacher in self.teachers:
            if teacher.user_id == user_id or teacher.mesh_account_id == mesh_account_id:
                return teacher
        raise KeyError(user_id or mesh_account_id)

    def add(self, world: TelegramWorld, account: DevAccount) -> Teacher:
        """A new teacher in the e-journal, played by a new Telegram user."""
        user_id = self.next_user_id
        self.next_user_id += 1
        first_name, last_name = split_full_name(account.full_name)
        world.add_user(user_id, first_name, last_name, language_code="ru", phone=account.phone)
        teacher = Teacher(
            user_id=user_id,
            mesh_account_id=account.mesh_account_id,
            full_name=account.full_name,
            phone=account.phone,
            email=account.email,
            vk_password=account.vk_password,
            case=str(account.case),
        )
        teacher.update(account)
        self.teachers.append(teacher)
        return teacher

    def replace(self, world: TelegramWorld, accounts: list[DevAccount]) -> None:
        """«Сбросить демо»: these teachers, and only these, are in the e-journal now."""
        self.teachers = []
        for account in accounts:
            self.add(world, account)

    def refresh(self, accounts: list[DevAccount]) -> None:
        """Bring every listed teacher up to date with the backend's answer."""
        by_id = {account.mesh_account_id: account for account in accounts}
        for teacher in self.teachers:
            account = by_id.get(teacher.mesh_account_id)
            if account is not None:
                teacher.update(account)


def split_full_name(full_name: str) -> tuple[str, str | None]:
    """«Иванова Мария Петровна» → first name «Мария», last name «Иванова» (as Telegram shows)."""
    parts = full_name.split()
    if len(parts) >= 2:
        return parts[1], parts[0]
    return (parts[0] if parts else "Учитель"), None


def populate(world: TelegramWorld, accounts: list[DevAccount]) -> Cast:
    """Create one Telegram user per demo account, the operators and the helpdesk supergroup."""
    operators = [
        world.add_user(user_id, first, last, username=username, language_code="ru")
        for user_id, first, last, username in OPERATORS
    ]
    world.add_forum_supergroup(
        HELPDESK_CHAT_ID,
        HELPDESK_TITLE,
        {operators[0]["id"]: "creator", **{op["id"]: "administrator" for op in operators[1:]}},
    )
    cast = Cast(teachers=[], operators=operators, helpdesk_chat_id=HELPDESK_CHAT_ID)
    cast.replace(world, accounts)
    return cast
