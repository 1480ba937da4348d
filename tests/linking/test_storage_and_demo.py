"""What the backend keeps: hashes not secrets; and a demo world that covers every branch."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from services.linking.api import BACKEND
from services.linking.db import OutdatedSchema, create_engine, create_schema
from services.linking.in_process import RunningBackend
from services.linking.models import Challenge, VkAccount
from services.linking.passwords import PasswordPolicy
from services.linking.phones import validate_phone
from services.linking.settings import LinkingSettings
from tests.linking.hostile import assert_hostile_bodies_get_4xx
from tests.linking.http_api import Api

CASES = {
    "no_vkid",
    "vkid_no_profile",
    "profile_exists",
    "profile_exists_authorised",
    "already_linked",
    "forgot_password_email",
    "forgot_password_app",
    "forgot_password_friends",
    "vpn",
}


async def test_demo_covers_every_branch_with_believable_teachers(api: Api) -> None:
    accounts = await api.ok("GET", "/dev/accounts")
    assert {account["case"] for account in accounts} == CASES
    assert len({account["phone"][-2:] for account in accounts}) == len(accounts)
    policy = PasswordPolicy(LinkingSettings())
    for account in accounts:
        assert validate_phone(account["phone"]) == account["phone"]
        assert re.fullmatch(r"[А-ЯЁ][а-яё]+ [А-ЯЁ][а-яё]+ [А-ЯЁ][а-яё]+", account["full_name"])
        if account["case"] == "no_vkid":
            assert account["vk_password"] is None and account["email"] is None
        else:
            assert policy.unmet(account["vk_password"]) == []
    flow = await api.start_flow("mesh-1003")
    assert flow["mesh_account"]["school"].startswith("ГБОУ Школа № ")


async def test_passwords_are_argon2_hashes_and_codes_only_digests(
    api: Api, backend: RunningBackend
) -> None:
    teacher, _flow = await api.flow_at_code("vkid_no_profile")
    code = await api.last_code(teacher["phone"])
    async with backend.app[BACKEND].db.transaction() as session:
        accounts = list(await session.scalars(select(VkAccount)))
        challenges = list(await session.scalars(select(Challenge)))
    assert accounts and all(a.password_hash.startswith("$argon2id$") for a in accounts)
    assert all(teacher["vk_password"] not in a.password_hash for a in accounts)
    [challenge] = challenges
    assert challenge.code_digest is not None and code not in challenge.code_digest
    assert len(challenge.code_digest) == 64


async def test_no_body_ever_causes_a_server_error(api: Api) -> None:
    await assert_hostile_bodies_get_4xx(api)


async def test_a_database_of_an_older_version_is_refused_at_start(tmp_path) -> None:
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'old.sqlite3'}")
    try:
        await create_schema(engine)
        async with engine.begin() as connection:  # as the schema was before flows were bound
            await connection.exec_driver_sql("ALTER TABLE link_flows DROP COLUMN end_user_id")
        with pytest.raises(OutdatedSchema, match=r"link_flows\.end_user_id.*fresh database"):
            await create_schema(engine)
    finally:
        await engine.dispose()
