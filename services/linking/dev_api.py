"""Dev endpoints (demo mode only): demo teachers, phones, mailboxes and the VPN switch."""

from __future__ import annotations

import json
import logging
import re
from typing import Any

import pyotp
from aiohttp import web
from pydantic import Field
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from services.linking import schemas
from services.linking.api import BACKEND, body
from services.linking.db import get
from services.linking.demo import CASES, DemoTeacherRecord, create_demo_teacher
from services.linking.errors import BadRequest, ChannelUnavailable, NotFound
from services.linking.friends import friends_of
from services.linking.models import Delivery, MeshAccount, Recovery, SferumProfile, VkAccount
from services.linking.network import set_vpn
from services.linking.transport import Handler, json_response
from services.linking.views import iso, profile_view
from services.linking.vkid import VkIdAccounts

logger = logging.getLogger(__name__)
# Phone (the VK ID login) → the password its owner set in a finished recovery. In memory only:
# a password a person typed is never written to a table or a log, not even in the demo.
KNOWN_PASSWORDS = web.AppKey("known_passwords", dict[str, str])
CREATE_ATTEMPTS = 3  # two creations racing for one number: the loser simply takes the next
_PASSWORD_CONFIRM = re.compile(r"^/v1/recoveries/([A-Za-z0-9_-]{1,64})/password/confirm$")


class NewAccountBody(schemas.Body):
    case: str = Field(min_length=1, max_length=40)


def _query(request: web.Request, name: str) -> str:
    value = request.query.get(name, "").strip()
    if not value or len(value) > 200 or "\x00" in value:
        raise BadRequest(f"Query parameter '{name}' is required.", fields={name: "required"})
    return value


async def _account_view(
    request: web.Request, session: AsyncSession, record: DemoTeacherRecord, mesh: MeshAccount
) -> dict[str, Any]:
    """One demo teacher as the sandbox sees her: who she is, what she knows, what is linked."""
    vk = await VkIdAccounts.by_phone(session, mesh.phone) if mesh.phone else None
    linked = (
        await get(session, SferumProfile, mesh.linked_profile_id)
        if mesh.linked_profile_id
        else None
    )
    known = request.app[KNOWN_PASSWORDS].get(vk.phone, record.vk_password) if vk else None
    return {
        "mesh_account_id": mesh.id,
        "full_name": mesh.full_name,
        "phone": mesh.phone,
        "email": vk.email if vk is not None else None,
        "vk_password": known if vk is not None and vk.password_hash else None,
        "case": record.case,
        "school": mesh.school,
        "birth_date": record.birth_date.isoformat(),
        "gender": record.gender,
        "vpn": mesh.vpn_enabled,
        "authenticator_app": vk is not None and vk.totp_secret is not None,
        "linked_profile": profile_view(linked) if linked is not None else None,
    }


async def accounts(request: web.Request) -> web.Response:
    """Every demo teacher (seeded first, then created), with her current password and link."""
    backend = request.app[BACKEND]
    async with backend.transaction() as (session, _now):
        rows = await session.execute(
            select(DemoTeacherRecord, MeshAccount)
            .join(MeshAccount, MeshAccount.id == DemoTeacherRecord.mesh_account_id)
            .order_by(DemoTeacherRecord.number)
        )
        views = [await _account_view(request, session, record, mesh) for record, mesh in rows.all()]
    return json_response(views)


async def account(request: web.Request) -> web.Response:
    """One demo teacher by MESH account id (what the sandbox's phone and e-journal poll)."""
    backend = request.app[BACKEND]
    mesh_account_id = request.match_info["mesh_account_id"]
    async with backend.transaction() as (session, _now):
        record = await get(session, DemoTeacherRecord, mesh_account_id)
        mesh = await get(session, MeshAccount, mesh_account_id) if record else None
        if record is None or mesh is None:
            raise NotFound("No demo teacher has this MESH account id.")
        view = await _account_view(request, session, record, mesh)
    return json_response(view)


async def create_account(request: web.Request) -> web.Response:
    """A fresh demo teacher of a case: new MESH account, phone and person, as the seed's shape."""
    data = await body(request, NewAccountBody)
    if data.case not in CASES:
        raise BadRequest("Unknown demo case.", fields={"case": f"one of: {', '.join(CASES)}"})
    backend = request.app[BACKEND]
    for attempt in range(CREATE_ATTEMPTS):
        try:
            async with backend.transaction() as (session, now):
                record = await create_demo_teacher(session, backend.hashing, data.case, now)
                mesh = await get(session, MeshAccount, record.mesh_account_id)
                assert mesh is not None
                view = await _account_view(request, session, record, mesh)
            return json_response(view, status=201)
        except IntegrityError:
            if attempt + 1 == CREATE_ATTEMPTS:
                raise
    raise AssertionError("unreachable")


@web.middleware
async def note_new_passwords(request: web.Request, handler: Handler) -> web.StreamResponse:
    """After a finished recovery, remember the new password (in memory) for the sandbox.

    Only the teacher knows her new password; in the sandbox the teacher is whoever sits at the
    page, and her phone shows her current password as a memory aid. Demo mode only; a restarted
    backend shows the seeded password again (the sandbox's backend lives as long as its page).
    """
    response = await handler(request)
    match = _PASSWORD_CONFIRM.match(request.path) if request.method == "POST" else None
    if match is None or response.status != 200:
        return response
    password = json.loads(await request.read())["password"]  # the body aiohttp already read
    backend = request.app[BACKEND]
    async with backend.transaction() as (session, _now):
        recovery = await get(session, Recovery, match.group(1))
        vk = await get(session, VkAccount, recovery.vk_account_id) if recovery else None
    if vk is not None:
        request.app[KNOWN_PASSWORDS][vk.phone] = password
    return response


async def link_token(request: web.Request) -> web.Response:
    """What the e-journal's «Перейти к подключению» would hand out."""
    data = await body(request, schemas.MeshAccountBody)
    backend = request.app[BACKEND]
    async with backend.transaction() as (session, now):
        issued = await backend.tokens.issue(session, data.mesh_account_id, now)
    return json_response(
        {
            "token": issued.token,
            "deep_link_payload": issued.token,
            "expires_at": iso(issued.expires_at),
        }
    )


def _items(items: list[Delivery]) -> list[dict[str, Any]]:
    return [
        {"channel": item.channel, "code": item.code, "text": item.text, "at": iso(item.created_at)}
        for item in items
    ]


async def _received(
    request: web.Request, parameter: str, channels: tuple[str, ...]
) -> web.Response:
    destination = _query(request, parameter)
    backend = request.app[BACKEND]
    async with backend.transaction() as (session, _now):
        items = await backend.deliveries.received(session, destination, channels)
    return json_response(_items(items))


async def friends(request: web.Request) -> web.Response:
    """The trusted friends of the VK ID of a phone, each with the codes that reached them."""
    phone = _query(request, "phone")
    backend = request.app[BACKEND]
    async with backend.transaction() as (session, _now):
        account = await VkIdAccounts.by_phone(session, phone)
        if account is None:
            raise NotFound("No VK ID is registered to this phone.")
        answer = [
            {
                "name": friend.name,
                "inbox": _items(
                    await backend.deliveries.received(session, friend.destination, ("friend",))
                ),
            }
            for friend in friends_of(account)
        ]
    return json_response(answer)


async def inbox(request: web.Request) -> web.Response:
    """Calls and SMS that reached a phone, oldest first."""
    return await _received(request, "phone", ("call", "sms"))


async def mailbox(request: web.Request) -> web.Response:
    """E-mails that reached an address, oldest first."""
    return await _received(request, "email", ("email",))


async def totp(request: web.Request) -> web.Response:
    """The code-generator app's current code for the VK ID of a phone."""
    phone = _query(request, "phone")
    backend = request.app[BACKEND]
    async with backend.transaction() as (session, now):
        account = await VkIdAccounts.by_phone(session, phone)
        if account is None:
            raise NotFound("No VK ID is registered to this phone.")
        if account.totp_secret is None:
            raise ChannelUnavailable("This account has no code-generator app.")
        code = pyotp.TOTP(account.totp_secret, digits=backend.settings.totp_code_length).at(now)
    return json_response({"code": code})


async def vpn(request: web.Request) -> web.Response:
    """Turn the simulated VPN of a teacher on or off."""
    data = await body(request, schemas.VpnBody)
    backend = request.app[BACKEND]
    async with backend.transaction() as (session, _now):
        await set_vpn(session, data.enabled, mesh_account_id=data.mesh_account_id, phone=data.phone)
    return json_response({"enabled": data.enabled})


def add_dev_routes(app: web.Application) -> None:
    """Mount the dev endpoints and the demo's password notebook (call before the app starts)."""
    app[KNOWN_PASSWORDS] = {}
    app.middlewares.append(note_new_passwords)
    app.router.add_routes(
        [
            web.get("/dev/accounts", accounts),
            web.post("/dev/accounts", create_account),
            web.get("/dev/accounts/{mesh_account_id}", account),
            web.post("/dev/link-token", link_token),
            web.get("/dev/inbox", inbox),
            web.get("/dev/mailbox", mailbox),
            web.get("/dev/totp", totp),
            web.get("/dev/friends", friends),
            web.post("/dev/vpn", vpn),
        ]
    )
