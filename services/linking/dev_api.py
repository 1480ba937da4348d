"""Dev endpoints (demo mode only): the sandbox's view of phones, mailboxes and the VPN switch."""

from __future__ import annotations

import pyotp
from aiohttp import web

from services.linking import schemas
from services.linking.api import BACKEND, body
from services.linking.demo import DEMO_TEACHERS
from services.linking.errors import BadRequest, ChannelUnavailable, NotFound
from services.linking.network import set_vpn
from services.linking.transport import json_response
from services.linking.views import iso
from services.linking.vkid import VkIdAccounts


def _query(request: web.Request, name: str) -> str:
    value = request.query.get(name, "").strip()
    if not value or len(value) > 200 or "\x00" in value:
        raise BadRequest(f"Query parameter '{name}' is required.", fields={name: "required"})
    return value


async def accounts(request: web.Request) -> web.Response:
    """The demo teachers with their known VK ID passwords (as seeded)."""
    return json_response(
        [
            {
                "mesh_account_id": teacher.mesh_account_id,
                "full_name": teacher.full_name,
                "phone": teacher.phone,
                "email": teacher.email if teacher.vk_password is not None else None,
                "vk_password": teacher.vk_password,
                "case": teacher.case,
            }
            for teacher in DEMO_TEACHERS
        ]
    )


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


async def _received(
    request: web.Request, parameter: str, channels: tuple[str, ...]
) -> web.Response:
    destination = _query(request, parameter)
    backend = request.app[BACKEND]
    async with backend.transaction() as (session, _now):
        items = await backend.deliveries.received(session, destination, channels)
    return json_response(
        [
            {
                "channel": item.channel,
                "code": item.code,
                "text": item.text,
                "at": iso(item.created_at),
            }
            for item in items
        ]
    )


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
    app.router.add_routes(
        [
            web.get("/dev/accounts", accounts),
            web.post("/dev/link-token", link_token),
            web.get("/dev/inbox", inbox),
            web.get("/dev/mailbox", mailbox),
            web.get("/dev/totp", totp),
            web.post("/dev/vpn", vpn),
        ]
    )
