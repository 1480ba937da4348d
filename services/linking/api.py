"""Routes of /health and /v1: parse the body, call one service method, answer its view.

Flow and recovery routes act for the end user named by the `X-End-User-Id` header (required);
the e-journal's routes (link tokens, phone confirmation) act for the MESH side and need none.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncSession

from services.linking import schemas
from services.linking.backend import Backend
from services.linking.callers import END_USER_HEADER, Caller, plausible_end_user_id
from services.linking.errors import BadRequest
from services.linking.journal import confirm_phone
from services.linking.models import LinkFlow, Recovery
from services.linking.transport import BodyT, json_response, read_body
from services.linking.views import iso

BACKEND: web.AppKey[Backend] = web.AppKey("linking_backend", Backend)

FlowStep = Callable[[Backend, AsyncSession, str, Caller, datetime], Awaitable[LinkFlow]]
RecoveryStep = Callable[[Backend, AsyncSession, str, Caller, datetime], Awaitable[Recovery]]


async def body(request: web.Request, model: type[BodyT]) -> BodyT:
    return await read_body(request, model, request.app[BACKEND].settings.max_body_size)


def caller(request: web.Request) -> Caller:
    """The API client and the end user it acts for; no or a malformed end user id: 400."""
    end_user = request.headers.get(END_USER_HEADER)
    if end_user is None or not plausible_end_user_id(end_user):
        reason = "required" if end_user is None else "invalid"
        raise BadRequest(
            f"The {END_USER_HEADER} header must name the end user (e.g. a Telegram user id).",
            fields={END_USER_HEADER: reason},
        )
    return Caller(client=request.app[BACKEND].client, end_user=end_user)


async def health(request: web.Request) -> web.Response:
    return json_response({"status": "ok"})


async def create_link_token(request: web.Request) -> web.Response:
    data = await body(request, schemas.MeshAccountBody)
    backend = request.app[BACKEND]
    async with backend.transaction() as (session, now):
        issued = await backend.tokens.issue(session, data.mesh_account_id, now)
    return json_response({"token": issued.token, "expires_at": iso(issued.expires_at)})


async def confirm_mesh_phone(request: web.Request) -> web.Response:
    """The e-journal: the teacher confirmed (or changed) her phone number in her profile."""
    data = await body(request, schemas.PhoneBody)
    backend = request.app[BACKEND]
    async with backend.transaction() as (session, _now):
        answer = await confirm_phone(session, request.match_info["mesh_account_id"], data.phone)
    return json_response(answer)


async def start_flow(request: web.Request) -> web.Response:
    who = caller(request)
    data = await body(request, schemas.TokenBody)
    backend = request.app[BACKEND]
    async with backend.transaction() as (session, now):
        flow = await backend.flows.start(session, data.token, who, now)
        view = await backend.flows.view(session, flow, now)
    return json_response(view, 201)


async def restart_flow(request: web.Request) -> web.Response:
    """«Начать заново»: the flow is abandoned; the answer is the fresh flow that replaces it."""
    who = caller(request)
    await body(request, schemas.Empty)
    backend = request.app[BACKEND]
    async with backend.transaction() as (session, now):
        flow = await backend.flows.restart(session, request.match_info["flow_id"], who, now)
        view = await backend.flows.view(session, flow, now)
    return json_response(view, 201)


async def _flow_answer(request: web.Request, step: FlowStep) -> web.Response:
    who = caller(request)
    backend = request.app[BACKEND]
    async with backend.transaction() as (session, now):
        flow = await step(backend, session, request.match_info["flow_id"], who, now)
        view = await backend.flows.view(session, flow, now)
    return json_response(view)


async def get_flow(request: web.Request) -> web.Response:
    return await _flow_answer(request, lambda b, s, fid, who, now: b.flows.load(s, fid, who, now))


async def submit_phone(request: web.Request) -> web.Response:
    data = await body(request, schemas.PhoneBody)
    return await _flow_answer(
        request,
        lambda b, s, fid, who, now: b.flows.submit_phone(s, fid, data.phone, who, now),
    )


async def submit_password(request: web.Request) -> web.Response:
    data = await body(request, schemas.PasswordBody)
    return await _flow_answer(
        request,
        lambda b, s, fid, who, now: b.flows.submit_password(s, fid, data.password, who, now),
    )


async def send_code(request: web.Request) -> web.Response:
    data = await body(request, schemas.ChannelBody)
    return await _flow_answer(
        request,
        lambda b, s, fid, who, now: b.flows.send_code(s, fid, data.channel, who, now),
    )


async def verify_code(request: web.Request) -> web.Response:
    data = await body(request, schemas.CodeBody)
    return await _flow_answer(
        request,
        lambda b, s, fid, who, now: b.flows.verify_code(s, fid, data.code, who, now),
    )


async def choose_profile(request: web.Request) -> web.Response:
    data = await body(request, schemas.ProfileBody)
    return await _flow_answer(
        request,
        lambda b, s, fid, who, now: b.flows.choose_profile(s, fid, data.profile_id, who, now),
    )


async def switch_account(request: web.Request) -> web.Response:
    await body(request, schemas.Empty)
    return await _flow_answer(
        request, lambda b, s, fid, who, now: b.flows.switch_account(s, fid, who, now)
    )


async def submit_personal_data(request: web.Request) -> web.Response:
    data = await body(request, schemas.PersonalDataBody)
    return await _flow_answer(
        request,
        lambda b, s, fid, who, now: b.flows.submit_personal_data(
            s,
            fid,
            full_name=data.full_name,
            birth_date=data.birth_date,
            gender=data.gender,
            caller=who,
            now=now,
        ),
    )


async def give_consent(request: web.Request) -> web.Response:
    data = await body(request, schemas.ConsentBody)
    link = data.decision == "link"
    return await _flow_answer(
        request, lambda b, s, fid, who, now: b.flows.give_consent(s, fid, link, who, now)
    )


async def start_recovery(request: web.Request) -> web.Response:
    who = caller(request)
    data = await body(request, schemas.RecoveryStartBody)
    backend = request.app[BACKEND]
    async with backend.transaction() as (session, now):
        recovery = await backend.recoveries.start(session, data.phone, data.flow_id, who, now)
        view = await backend.recoveries.view(session, recovery, now)
    return json_response(view, 201)


async def _recovery_answer(request: web.Request, step: RecoveryStep) -> web.Response:
    who = caller(request)
    backend = request.app[BACKEND]
    async with backend.transaction() as (session, now):
        recovery = await step(backend, session, request.match_info["recovery_id"], who, now)
        view: dict[str, Any] = await backend.recoveries.view(session, recovery, now)
    return json_response(view)


async def get_recovery(request: web.Request) -> web.Response:
    return await _recovery_answer(
        request, lambda b, s, rid, who, now: b.recoveries.load(s, rid, who, now)
    )


async def resend_recovery_code(request: web.Request) -> web.Response:
    await body(request, schemas.Empty)
    return await _recovery_answer(
        request, lambda b, s, rid, who, now: b.recoveries.resend_code(s, rid, who, now)
    )


async def verify_recovery_code(request: web.Request) -> web.Response:
    data = await body(request, schemas.CodeBody)
    return await _recovery_answer(
        request,
        lambda b, s, rid, who, now: b.recoveries.verify_code(s, rid, data.code, who, now),
    )


async def confirm_recovery_account(request: web.Request) -> web.Response:
    data = await body(request, schemas.ConfirmBody)
    return await _recovery_answer(
        request,
        lambda b, s, rid, who, now: b.recoveries.confirm_account(s, rid, data.confirmed, who, now),
    )


async def choose_recovery_method(request: web.Request) -> web.Response:
    data = await body(request, schemas.MethodBody)
    return await _recovery_answer(
        request,
        lambda b, s, rid, who, now: b.recoveries.choose_method(s, rid, data.method, who, now),
    )


async def resend_method_code(request: web.Request) -> web.Response:
    await body(request, schemas.Empty)
    return await _recovery_answer(
        request, lambda b, s, rid, who, now: b.recoveries.resend_method_code(s, rid, who, now)
    )


async def verify_method_code(request: web.Request) -> web.Response:
    data = await body(request, schemas.CodeBody)
    return await _recovery_answer(
        request,
        lambda b, s, rid, who, now: b.recoveries.verify_method_code(s, rid, data.code, who, now),
    )


async def resend_friend_codes(request: web.Request) -> web.Response:
    await body(request, schemas.Empty)
    return await _recovery_answer(
        request, lambda b, s, rid, who, now: b.recoveries.resend_friend_codes(s, rid, who, now)
    )


async def verify_friend_code(request: web.Request) -> web.Response:
    data = await body(request, schemas.CodeBody)
    return await _recovery_answer(
        request,
        lambda b, s, rid, who, now: b.recoveries.verify_friend_code(s, rid, data.code, who, now),
    )


async def propose_new_password(request: web.Request) -> web.Response:
    data = await body(request, schemas.NewPasswordBody)
    return await _recovery_answer(
        request,
        lambda b, s, rid, who, now: b.recoveries.propose_password(s, rid, data.password, who, now),
    )


async def confirm_new_password(request: web.Request) -> web.Response:
    data = await body(request, schemas.RepeatPasswordBody)

    async def confirm(
        b: Backend, s: AsyncSession, rid: str, who: Caller, now: datetime
    ) -> Recovery:
        recovery = await b.recoveries.confirm_password(
            s, rid, data.password, data.logout_other_sessions, who, now
        )
        await b.flows.signed_in_by_recovery(s, recovery, who, now)  # its link flow goes on
        return recovery

    return await _recovery_answer(request, confirm)


def add_routes(app: web.Application) -> None:
    """Register /health and every /v1 route."""
    flow = "/v1/flows/{flow_id}"
    recovery = "/v1/recoveries/{recovery_id}"
    app.router.add_routes(
        [
            web.get("/health", health),
            web.post("/v1/link-tokens", create_link_token),
            web.post("/v1/mesh-accounts/{mesh_account_id}/phone", confirm_mesh_phone),
            web.post("/v1/flows", start_flow),
            web.get(flow, get_flow),
            web.post(f"{flow}/phone", submit_phone),
            web.post(f"{flow}/password", submit_password),
            web.post(f"{flow}/code", send_code),
            web.post(f"{flow}/code/verify", verify_code),
            web.post(f"{flow}/profile", choose_profile),
            web.post(f"{flow}/switch-account", switch_account),
            web.post(f"{flow}/personal-data", submit_personal_data),
            web.post(f"{flow}/consent", give_consent),
            web.post(f"{flow}/restart", restart_flow),
            web.post("/v1/recoveries", start_recovery),
            web.get(recovery, get_recovery),
            web.post(f"{recovery}/code", resend_recovery_code),
            web.post(f"{recovery}/code/verify", verify_recovery_code),
            web.post(f"{recovery}/confirm", confirm_recovery_account),
            web.post(f"{recovery}/method", choose_recovery_method),
            web.post(f"{recovery}/method/code", resend_method_code),
            web.post(f"{recovery}/method/verify", verify_method_code),
            web.post(f"{recovery}/friends/code", resend_friend_codes),
            web.post(f"{recovery}/friends/verify", verify_friend_code),
            web.post(f"{recovery}/password", propose_new_password),
            web.post(f"{recovery}/password/confirm", confirm_new_password),
        ]
    )
