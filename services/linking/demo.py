"""Demo world: one believable Moscow teacher per branch of the seed article.

Every VK ID has a known password (shown by GET /dev/accounts, demo mode only). Phones end in
distinct two digits (01…09) so the masked `+7 *** ***-**-07` tells the teachers apart. Each MESH
account has its teacher's phone, the one her VK ID uses: link flows accept only that number.
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

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
)


@dataclass(frozen=True)
class DemoTeacher:
    case: str
    mesh_account_id: str
    full_name: str  # «Фамилия Имя Отчество», as in the e-journal
    school: str
    phone: str
    birth_date: date
    gender: str
    vk_password: str | None = None  # None: no VK ID at all
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


def demo_totp_secret(phone: str) -> str:
    """A stable base32 secret per phone, so the demo's authenticator is reproducible."""
    return base64.b32encode(hashlib.sha256(f"demo-totp:{phone}".encode()).digest()[:20]).decode()


async def seed_demo(session: AsyncSession, hashing: PasswordHashing, now: datetime) -> bool:
    """Insert the demo teachers unless MESH accounts already exist; True when seeded."""
    if await session.scalar(select(func.count()).select_from(MeshAccount)):
        return False
    for number, teacher in enumerate(DEMO_TEACHERS, start=1):
        mesh = MeshAccount(
            id=teacher.mesh_account_id,
            full_name=teacher.full_name,
            school=teacher.school,
            phone=teacher.phone,
            email=teacher.email,
            vpn_enabled=teacher.vpn,
        )
        session.add(mesh)
        if teacher.vk_password is None:
            continue
        account = VkAccount(
            id=f"vk-demo-{number:02d}",
            phone=teacher.phone,
            email=teacher.email,
            first_name=teacher.first_name,
            last_name=teacher.last_name,
            password_hash=await hashing.hash(teacher.vk_password),
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
    return True
