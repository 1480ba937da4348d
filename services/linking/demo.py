"""Demo world: one believable Moscow teacher per branch of the seed article, and more on demand.

Every VK ID has a known password (shown by GET /dev/accounts, demo mode only). Phones end in
distinct two digits (01…09) so the masked `+7 *** ***-**-07` tells the teachers apart. Each MESH
account has its teacher's phone, the one her VK ID uses: link flows accept only that number.

The seeded nine can each be linked once; `create_demo_teacher` makes a fresh teacher of any case
(POST /dev/accounts), so the sandbox, tests and benchmarks never run out. The demo's notebook
(`demo_teachers`, demo mode only) remembers each teacher's case, personal data and the VK ID
password she was given (public demo data; a password she sets later is never written here).
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta

from sqlalchemy import Date, Integer, String, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from services.linking.db import get
from services.linking.models import DeviceSession, MeshAccount, SferumProfile, VkAccount
from services.linking.passwords import PasswordHashing
from services.linking.vkid import MESSENGER_CLIENT

CASES = (
    "no_vkid",
    "vkid_no_profile",
    "profile_exists",
    "profile_exists_authorised",
    "already_linked",
    "forgot_password_email",
    "forgot_password_app",
    "forgot_password_friends",
    "vpn",
    "registered_no_password",
)
"""Every case a fresh teacher can be made of (POST /dev/accounts); the first nine are seeded."""


@dataclass(frozen=True)
class DemoTeacher:
    case: str
    mesh_account_id: str
    full_name: str  # «Фамилия Имя Отчество», as in the e-journal
    school: str
    phone: str
    birth_date: date
    gender: str
    vk_password: str | None = None  # None: no VK ID at all (unless `passwordless_vkid`)
    passwordless_vkid: bool = False  # a VK ID made by registration: its phone, nothing else
    email: str | None = None
    with_totp: bool = False
    trusted_friends: int = 0
    has_profile: bool = False
    messenger_authorised: bool = False
    linked: bool = False
    vpn: bool = False

    @property
    def last_name(self) -> str:
        return self.full_name.split()[0]

    @property
    def first_name(self) -> str:
        return self.full_name.split()[1]


DEMO_TEACHERS: tuple[DemoTeacher, ...] = (
    DemoTeacher(
        case="no_vkid",
        mesh_account_id="mesh-1001",
        full_name="Смирнова Ольга Викторовна",
        school="ГБОУ Школа № 1502",
        phone="+79161234501",
        birth_date=date(1979, 4, 12),
        gender="female",
    ),
    DemoTeacher(
        case="vkid_no_profile",
        mesh_account_id="mesh-1002",
        full_name="Кузнецов Андрей Сергеевич",
        school="ГБОУ Школа № 1234",
        phone="+79031112202",
        birth_date=date(1986, 9, 3),
        gender="male",
        vk_password="Kuznecov#1986",
        email="a.kuznetsov@yandex.ru",
        trusted_friends=2,
    ),
    DemoTeacher(
        case="profile_exists",
        mesh_account_id="mesh-1003",
        full_name="Иванова Мария Петровна",
        school="ГБОУ Школа № 1234",
        phone="+79257654303",
        birth_date=date(1985, 3, 14),
        gender="female",
        vk_password="Mariya!1985",
        email="m.ivanova@mail.ru",
        has_profile=True,
    ),
    DemoTeacher(
        case="profile_exists_authorised",
        mesh_account_id="mesh-1004",
        full_name="Попова Елена Николаевна",
        school="ГБОУ Школа № 2086",
        phone="+79857776604",
        birth_date=date(1990, 11, 21),
        gender="female",
        vk_password="Elena$Popova90",
        email="elena.popova@bk.ru",
        has_profile=True,
        messenger_authorised=True,
    ),
    DemoTeacher(
        case="already_linked",
        mesh_account_id="mesh-1005",
        full_name="Соколов Дмитрий Александрович",
        school="ГБОУ Школа № 1568",
        phone="+79264445505",
        birth_date=date(1975, 6, 30),
        gender="male",
        vk_password="Sokolov%1975",
        has_profile=True,
        messenger_authorised=True,
        linked=True,
    ),
    DemoTeacher(
        case="forgot_password_email",
        mesh_account_id="mesh-1006",
        full_name="Морозова Екатерина Андреевна",
        school="ГБОУ Школа № 1797",
        phone="+79175553306",
        birth_date=date(1992, 1, 17),
        gender="female",
        vk_password="Katya*Morozova92",
        email="katerina.morozova@mail.ru",
        has_profile=True,
    ),
    DemoTeacher(
        case="forgot_password_app",
        mesh_account_id="mesh-1007",
        full_name="Волков Сергей Игоревич",
        school="ГБОУ Школа № 1329",
        phone="+79687778807",
        birth_date=date(1983, 8, 8),
        gender="male",
        vk_password="Volkov(1983)",
        with_totp=True,
        trusted_friends=1,
    ),
    DemoTeacher(
        case="forgot_password_friends",
        mesh_account_id="mesh-1008",
        full_name="Лебедева Анна Михайловна",
        school="ГБОУ Школа № 1440",
        phone="+79099990008",
        birth_date=date(1968, 2, 25),
        gender="female",
        vk_password="Anna'Lebedeva68",
        trusted_friends=3,
        has_profile=True,
    ),
    DemoTeacher(
        case="vpn",
        mesh_account_id="mesh-1009",
        full_name="Новиков Павел Олегович",
        school="ГБОУ Школа № 2005",
        phone="+79151230009",
        birth_date=date(1988, 12, 5),
        gender="male",
        vk_password='Novikov"1988',
        email="p.novikov@gmail.com",
        vpn=True,
    ),
)


# Cases made on request only (POST /dev/accounts), not seeded: the seeded nine stay as they were.
ON_REQUEST_TEMPLATES: tuple[DemoTeacher, ...] = (
    DemoTeacher(
        # She once registered VK ID with her phone alone (Sferum's «Регистрация») and never set
        # a password; VK Messenger is signed out, so VK ID asks for the password she never had.
        case="registered_no_password",
        mesh_account_id="mesh-template",
        full_name="Григорьева Дарья Олеговна",
        school="ГБОУ Школа № 1517",
        phone="+79990000000",
        birth_date=date(1994, 7, 9),
        gender="female",
        passwordless_vkid=True,
        has_profile=True,
    ),
)


SEEDED_CASES = tuple(teacher.case for teacher in DEMO_TEACHERS)


def demo_totp_secret(phone: str) -> str:
    """A stable base32 secret per phone, so the demo's authenticator is reproducible."""
    return base64.b32encode(hashlib.sha256(f"demo-totp:{phone}".encode()).digest()[:20]).decode()


class DemoBase(DeclarativeBase):
    """The demo's own table, kept apart from the simulated world (created in demo mode only)."""


class DemoTeacherRecord(DemoBase):
    """The demo's notebook of one teacher: her case, her data and the password she was given."""

    __tablename__ = "demo_teachers"

    mesh_account_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    number: Mapped[int] = mapped_column(Integer, unique=True)  # creation order; picks the phone
    case: Mapped[str] = mapped_column(String(40))
    birth_date: Mapped[date] = mapped_column(Date)
    gender: Mapped[str] = mapped_column(String(8))
    # Plain text on purpose: a demo teacher's seeded password is public (the sandbox shows it).
    vk_password: Mapped[str | None] = mapped_column(String(256))


# Fresh teachers: believable names cycled by number, phones in a range no seed or bench uses.
FRESH_PHONE_PREFIX = "+7999"
FRESH_PASSWORD = "Sferum#{number:04d}"
_FEMALE = ("Анна", "Ирина", "Наталья", "Светлана", "Татьяна", "Юлия", "Ксения", "Вера")
_MALE = ("Алексей", "Игорь", "Михаил", "Николай", "Олег", "Роман", "Тимур", "Юрий")
_SURNAMES = (
    "Петров", "Орлов", "Белов", "Зайцев", "Павлов", "Семёнов", "Голубев", "Фёдоров",
    "Медведев", "Никитин", "Егоров", "Киселёв", "Макаров", "Андреев", "Тихонов",
)  # fmt: skip
_PATRONYMICS = (
    ("Иванович", "Ивановна"), ("Петрович", "Петровна"), ("Сергеевич", "Сергеевна"),
    ("Алексеевич", "Алексеевна"), ("Михайлович", "Михайловна"), ("Николаевич", "Николаевна"),
    ("Владимирович", "Владимировна"),
)  # fmt: skip


def template_for(case: str) -> DemoTeacher:
    """The seeded teacher whose shape a fresh teacher of `case` copies; KeyError if unknown."""
    for teacher in (*DEMO_TEACHERS, *ON_REQUEST_TEMPLATES):
        if teacher.case == case:
            return teacher
    raise KeyError(case)


def fresh_teacher(case: str, number: int) -> DemoTeacher:
    """A new teacher of `case` (same VK ID, profile, link and VPN shape), new person and phone."""
    template = template_for(case)
    female = number % 2 == 0
    first = (_FEMALE if female else _MALE)[number // 2 % len(_FEMALE)]
    surname = _SURNAMES[number % len(_SURNAMES)] + ("а" if female else "")
    patronymic = _PATRONYMICS[number % len(_PATRONYMICS)][1 if female else 0]
    has_vkid = template.vk_password is not None
    return replace(
        template,
        mesh_account_id=f"mesh-{1000 + number}",
        full_name=f"{surname} {first} {patronymic}",
        phone=f"{FRESH_PHONE_PREFIX}{number:07d}",
        birth_date=date(1965 + number % 30, 1 + number % 12, 1 + number % 28),
        gender="female" if female else "male",
        vk_password=FRESH_PASSWORD.format(number=number) if has_vkid else None,
        email=f"teacher{number}@mail.ru" if template.email else None,
    )


def _notebook_record(number: int, teacher: DemoTeacher) -> DemoTeacherRecord:
    return DemoTeacherRecord(
        mesh_account_id=teacher.mesh_account_id,
        number=number,
        case=teacher.case,
        birth_date=teacher.birth_date,
        gender=teacher.gender,
        vk_password=teacher.vk_password,
    )


async def _insert_teacher(
    session: AsyncSession,
    hashing: PasswordHashing,
    number: int,
    teacher: DemoTeacher,
    now: datetime,
) -> DemoTeacherRecord:
    """Write one teacher into the simulated world (MESH, VK ID, Sferum) and the notebook."""
    mesh = MeshAccount(
        id=teacher.mesh_account_id,
        full_name=teacher.full_name,
        school=teacher.school,
        phone=teacher.phone,
        email=teacher.email,
        vpn_enabled=teacher.vpn,
    )
    session.add(mesh)
    record = _notebook_record(number, teacher)
    session.add(record)
    if teacher.vk_password is None and not teacher.passwordless_vkid:
        await session.flush()
        return record
    account = VkAccount(
        id=f"vk-demo-{number:02d}",
        phone=teacher.phone,
        email=teacher.email,
        first_name=teacher.first_name,
        last_name=teacher.last_name,
        password_hash=(
            await hashing.hash(teacher.vk_password) if teacher.vk_password is not None else None
        ),
        totp_secret=demo_totp_secret(teacher.phone) if teacher.with_totp else None,
        trusted_friends=teacher.trusted_friends,
        created_at=now - timedelta(days=400),
    )
    session.add(account)
    await session.flush()  # no ORM relationships: parents are written first by hand
    session.add(
        DeviceSession(
            id=f"ds-demo-{number:02d}-web",
            vk_account_id=account.id,
            client="vk_web",
            device="Chrome, Windows",
            created_at=now - timedelta(days=30),
        )
    )
    if teacher.messenger_authorised:
        session.add(
            DeviceSession(
                id=f"ds-demo-{number:02d}-messenger",
                vk_account_id=account.id,
                client=MESSENGER_CLIENT,
                device="VK Мессенджер, Android",
                created_at=now - timedelta(days=10),
            )
        )
    if teacher.has_profile:
        profile = SferumProfile(
            id=f"sf-demo-{number:02d}",
            vk_account_id=account.id,
            phone=teacher.phone,
            full_name=teacher.full_name,
            birth_date=teacher.birth_date,
            gender=teacher.gender,
            school=teacher.school,
            created_at=now - timedelta(days=200),
        )
        session.add(profile)
        await session.flush()
        if teacher.linked:
            mesh.linked_profile_id = profile.id
            mesh.linked_at = now - timedelta(days=100)
    await session.flush()
    return record


async def seed_demo(session: AsyncSession, hashing: PasswordHashing, now: datetime) -> bool:
    """Insert the demo teachers unless MESH accounts already exist; True when seeded.

    Creates the notebook table first (in this transaction), so only demo databases have it.
    """
    await session.run_sync(lambda sync: DemoBase.metadata.create_all(sync.connection()))
    if await session.scalar(select(func.count()).select_from(MeshAccount)):
        await _note_seeded_teachers(session)
        return False
    for number, teacher in enumerate(DEMO_TEACHERS, start=1):
        await _insert_teacher(session, hashing, number, teacher, now)
    return True


async def _note_seeded_teachers(session: AsyncSession) -> None:
    """A demo database from before the notebook existed: note the seeded teachers it holds."""
    if await session.scalar(select(func.count()).select_from(DemoTeacherRecord)):
        return
    for number, teacher in enumerate(DEMO_TEACHERS, start=1):
        if await get(session, MeshAccount, teacher.mesh_account_id) is not None:
            session.add(_notebook_record(number, teacher))


async def create_demo_teacher(
    session: AsyncSession, hashing: PasswordHashing, case: str, now: datetime
) -> DemoTeacherRecord:
    """A fresh teacher of `case` (KeyError if unknown), numbered after every earlier one.

    Two creations at the same moment may pick the same number; the loser's transaction fails on
    the notebook's unique number and the caller may simply try again.
    """
    template_for(case)
    newest = await session.scalar(select(func.max(DemoTeacherRecord.number)))
    number = max(newest or 0, len(DEMO_TEACHERS)) + 1
    return await _insert_teacher(session, hashing, number, fresh_teacher(case, number), now)
