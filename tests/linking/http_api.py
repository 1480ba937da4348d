"""A thin test-side HTTP helper: teacher-level steps over real HTTP to the served backend."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import aiohttp

from services.clock import FakeClock


@dataclass(frozen=True)
class Reply:
    status: int
    body: Any

    @property
    def error(self) -> dict[str, Any]:
        assert isinstance(self.body, dict) and "error" in self.body, self.body
        return self.body["error"]


# The bot's teacher in these tests: every flow and recovery call names an end user.
TEACHER_ID = "1001"


def end_user(user_id: str) -> dict[str, str]:
    """The header the bot sends with the Telegram user id it acts for."""
    return {"X-End-User-Id": user_id}


def api_session(url: str, user_id: str = TEACHER_ID) -> aiohttp.ClientSession:
    """A session to the backend acting for `user_id`."""
    return aiohttp.ClientSession(url, headers=end_user(user_id))


class Api:
    """Raw calls plus the steps a teacher takes; assertions give the body on failure."""

    def __init__(self, session: aiohttp.ClientSession, clock: FakeClock) -> None:
        self.session = session
        self.clock = clock

    async def call(self, method: str, path: str, json: Any = None, **kwargs: Any) -> Reply:
        async with self.session.request(method, path, json=json, **kwargs) as response:
            body = await response.json(content_type=None)
            return Reply(response.status, body)

    async def ok(self, method: str, path: str, json: Any = None, status: int = 200) -> Any:
        reply = await self.call(method, path, json)
        assert reply.status == status, reply.body
        return reply.body

    async def refused(
        self, method: str, path: str, json: Any, code: str, status: int
    ) -> dict[str, Any]:
        reply = await self.call(method, path, json)
        assert (reply.status, reply.error["code"]) == (status, code), reply.body
        return reply.error

    # Demo data and the teacher's phone.

    async def teacher(self, case: str) -> dict[str, Any]:
        accounts = await self.ok("GET", "/dev/accounts")
        return next(account for account in accounts if account["case"] == case)

    async def token(self, mesh_account_id: str) -> str:
        body = await self.ok("POST", "/dev/link-token", {"mesh_account_id": mesh_account_id})
        return body["token"]

    async def confirm_phone(self, mesh_account_id: str, phone: str) -> None:
        """The teacher confirms `phone` as hers in the e-journal (flows then accept it)."""
        await self.ok("POST", f"/v1/mesh-accounts/{mesh_account_id}/phone", {"phone": phone})

    async def inbox(self, phone: str) -> list[dict[str, Any]]:
        reply = await self.call("GET", "/dev/inbox", params={"phone": phone})
        assert reply.status == 200, reply.body
        return reply.body

    async def last_code(self, phone: str) -> str:
        return (await self.inbox(phone))[-1]["code"]

    async def last_email_code(self, email: str) -> str:
        reply = await self.call("GET", "/dev/mailbox", params={"email": email})
        assert reply.status == 200, reply.body
        return reply.body[-1]["code"]

    async def totp(self, phone: str) -> str:
        reply = await self.call("GET", "/dev/totp", params={"phone": phone})
        assert reply.status == 200, reply.body
        return reply.body["code"]

    # Link flow steps.

    async def start_flow(self, mesh_account_id: str) -> dict[str, Any]:
        token = await self.token(mesh_account_id)
        return await self.ok("POST", "/v1/flows", {"token": token}, status=201)

    async def step(self, flow_id: str, action: str, json: Any = None) -> dict[str, Any]:
        return await self.ok("POST", f"/v1/flows/{flow_id}/{action}", json or {})

    async def get_flow(self, flow_id: str) -> dict[str, Any]:
        return await self.ok("GET", f"/v1/flows/{flow_id}")

    async def flow_at_code(self, case: str) -> tuple[dict[str, Any], dict[str, Any]]:
        """A flow of the teacher of `case` waiting for the call code (password given if asked)."""
        teacher = await self.teacher(case)
        flow = await self.start_flow(teacher["mesh_account_id"])
        flow = await self.step(flow["flow_id"], "phone", {"phone": teacher["phone"]})
        if flow["state"] == "password":
            flow = await self.step(
                flow["flow_id"], "password", {"password": teacher["vk_password"]}
            )
        assert flow["state"] == "code", flow
        return teacher, flow

    async def enter_code(self, flow: dict[str, Any], phone: str) -> dict[str, Any]:
        return await self.step(
            flow["flow_id"], "code/verify", {"code": await self.last_code(phone)}
        )
