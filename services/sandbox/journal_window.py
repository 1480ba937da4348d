"""The e-journal's own linking window in the sandbox (guide mode): its one API for the page.

`POST /api/journal/{mesh_account_id}/window` with `{"action": …}` acts as the e-journal's window
of that MESH account (`LinkingClient.for_journal`): it finds the flow the bot opened (or opens
one itself when there is none), reports the screens only the window knows, and drives the same
backend routes the bot does — same rules, same budgets. The answer is always 200 with the flow
as the backend shows it and, when the backend refused, the refusal, which the window shows under
its field as VK ID does:

    {"flow": {...} | null, "recovery": {...} | null,
     "error": null | {"code", "detail", "attempts_left", "retry_after"}}
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Awaitable, Callable
from datetime import date, datetime
from enum import Enum
from typing import Any

from aiohttp import web

from services.linking_client import Flow, LinkingClient, LinkingError, NotFound, Recovery

logger = logging.getLogger(__name__)

Action = Callable[[LinkingClient, str, dict[str, Any]], Awaitable[Flow | None]]
RecoveryAction = Callable[[LinkingClient, str, dict[str, Any]], Awaitable[Recovery]]


def _jsonable(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, tuple | list):
        return [_jsonable(item) for item in value]
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, datetime | date):
        return value.isoformat()
    return value


async def _report(window: LinkingClient, flow_id: str, body: dict[str, Any]) -> Flow:
    await window.report_screen(flow_id, str(body["screen"]))
    return await window.get_flow(flow_id)


ACTIONS: dict[str, Action] = {
    "screen": _report,
    "phone": lambda w, f, b: w.submit_phone(f, str(b["phone"])),
    "password": lambda w, f, b: w.submit_password(f, str(b["password"])),
    "send_code": lambda w, f, b: w.send_code(f, "sms" if b.get("channel") == "sms" else "call"),
    "verify_code": lambda w, f, b: w.verify_code(f, str(b["code"])),
    "profile": lambda w, f, b: w.choose_profile(f, str(b["profile_id"])),
    "switch_account": lambda w, f, b: w.switch_account(f),
    "personal_data": lambda w, f, b: w.submit_personal_data(
        f,
        full_name=str(b["full_name"]),
        birth_date=date.fromisoformat(str(b["birth_date"])),
        gender="male" if b.get("gender") == "male" else "female",
    ),
    "consent": lambda w, f, b: w.give_consent(f, link=bool(b.get("link"))),
    "read": lambda w, f, b: w.get_flow(f),
}


# «Забыли или не установили пароль?» in the window: the recovery screens of the guide. Each takes
# the recovery's id (`recovery_id`); the first one starts it from the window's flow.
RECOVERY_ACTIONS: dict[str, RecoveryAction] = {
    "recovery_read": lambda w, r, b: w.get_recovery(r),
    "recovery_resend": lambda w, r, b: w.resend_recovery_code(r),
    "recovery_code": lambda w, r, b: w.verify_recovery_code(r, str(b["code"])),
    "recovery_confirm": lambda w, r, b: w.confirm_recovery_account(
        r, confirmed=bool(b.get("confirmed"))
    ),
    "recovery_method": lambda w, r, b: w.choose_recovery_method(r, b["method"]),
    "recovery_method_resend": lambda w, r, b: w.resend_method_code(r),
    "recovery_method_code": lambda w, r, b: w.verify_method_code(r, str(b["code"])),
    "recovery_password": lambda w, r, b: w.propose_new_password(r, str(b["password"])),
    "recovery_repeat": lambda w, r, b: w.confirm_new_password(
        r, str(b["password"]), logout_other_sessions=bool(b.get("logout"))
    ),
}


class JournalWindow:
    """The handler behind the page's VK ID window."""

    def __init__(self, backend: LinkingClient) -> None:
        self.backend = backend

    async def handle(self, request: web.Request) -> web.Response:
        mesh_account_id = request.match_info["mesh_account_id"]
        body = await request.json()
        if not isinstance(body, dict):
            raise ValueError("the body must be a JSON object")
        window = self.backend.for_journal(mesh_account_id)
        action = str(body.get("action") or "")
        flow: Flow | None = None
        recovery: Recovery | None = None
        error: dict[str, Any] | None = None
        try:
            if action == "recovery_start":
                flow_id = str(body["flow_id"])
                recovery = await window.start_recovery(str(body["phone"]), flow_id=flow_id)
                flow = await window.get_flow(flow_id)
            elif action in RECOVERY_ACTIONS:
                recovery = await RECOVERY_ACTIONS[action](window, str(body["recovery_id"]), body)
                flow = await window.get_flow(str(body["flow_id"]))
            elif action == "open":
                flow = await self._open(window, mesh_account_id)
            elif action == "peek":
                flow = await self._peek(window, mesh_account_id)
            elif action in ACTIONS:
                flow = await ACTIONS[action](window, str(body["flow_id"]), body)
            else:
                raise ValueError(f"unknown action {action!r}")
        except LinkingError as refusal:
            error = {
                "code": refusal.code,
                "detail": refusal.detail,
                "attempts_left": refusal.attempts_left,
                "retry_after": refusal.retry_after,
            }
            try:  # the window shows where the flow (and the recovery) is after the refusal
                if body.get("flow_id"):
                    flow = await window.get_flow(str(body["flow_id"]))
                if body.get("recovery_id"):
                    recovery = await window.get_recovery(str(body["recovery_id"]))
            except LinkingError:
                pass
        return web.json_response(
            {"flow": _jsonable(flow), "recovery": _jsonable(recovery), "error": error}
        )

    async def _open(self, window: LinkingClient, mesh_account_id: str) -> Flow:
        """«Перейти к подключению»: the flow the bot opened, or a new one of the window's own."""
        try:
            flow = await window.mesh_account_flow(mesh_account_id)
            if not flow.is_finished:
                return flow
        except NotFound:
            pass
        token = await self.backend.create_link_token(mesh_account_id)
        return await window.start_flow(token.token)

    @staticmethod
    async def _peek(window: LinkingClient, mesh_account_id: str) -> Flow | None:
        """The account's open flow, if any: the page opens the window on it, else the bot."""
        try:
            flow = await window.mesh_account_flow(mesh_account_id)
        except NotFound:
            return None
        return None if flow.is_finished else flow
