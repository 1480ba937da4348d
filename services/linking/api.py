"""Routes of /health and /v1: parse the body, call one service method, answer its view.

Flow and recovery routes act for the end user named by the `X-End-User-Id` header (required);
the e-journal's routes (link tokens, phone confirmation) act for the MESH side and need none.

The e-journal's own linking window (guide mode) drives the same flows: it names the MESH account
in `X-Mesh-Account-Id` instead (honoured only with the journal's API key, or in a keyless demo),
and then acts as the flow's end user, so every rule and budget is the one the bot meets.

Every flow and recovery route goes through `_flow_answer` / `_recovery_answer`, the one place
where a flow's events are recorded (services/linking/flow_events.py).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncSession

from services.linking import schemas
from services.linking.backend import Backend
from services.linking.callers import (
    END_USER_HEADER,
    MESH_ACCOUNT_HEADER,
    Caller,
    client_fingerprint,
    plausible_end_user_id,
)
from services.linking.db import get
from services.linking.errors import (
    BadRequest,
    DomainError,
    NotFound,
    ScenarioChanged,
    Unauthorized,
    ensure_plausible_id,
)
from services.linking.flow_events import MAX_WAIT, POLL_INTERVAL, Snapshot
from services.linking.journal import confirm_phone, newest_flow
from services.linking.models import LinkFlow, Recovery
from services.linking.transport import BodyT, json_response, read_body, route_template
from services.linking.views import iso

# The request carries the e-journal's API key (set by the key middleware).
JOURNAL_CLIENT: web.RequestKey[bool] = web.RequestKey("journal_client", bool)
BOT, JOURNAL = "bot", "journal"  # who made a change, in the events

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


def journal_account(request: web.Request) -> str | None:
    """The MESH account the e-journal's window acts for, or None for the bot's requests.

    Outside a keyless demo only the journal's API key may name a MESH account.
    """
    mesh = request.headers.get(MESH_ACCOUNT_HEADER)
    if mesh is None:
        return None
    backend = request.app[BACKEND]
    if backend.settings.api_key is not None and not request.get(JOURNAL_CLIENT):
        raise Unauthorized(f"Only the e-journal's API key may send {MESH_ACCOUNT_HEADER}.")
    return ensure_plausible_id(mesh, "MESH account")


def _journal_caller(request: web.Request, end_user: str) -> Caller:
    settings = request.app[BACKEND].settings
    key = settings.journal_api_key
    client = client_fingerprint(key.get_secret_value()) if key is not None else None
    return Caller(client=client or request.app[BACKEND].client, end_user=end_user)


async def flow_caller(
    request: web.Request, session: AsyncSession, flow_id: str
) -> tuple[Caller, str]:
    """Who acts on this flow and as whom: the bot for its end user, or the e-journal's window
    for the MESH account — then as the flow's own end user (same budgets, same locks)."""
    mesh = journal_account(request)
    if mesh is None:
        return caller(request), BOT
    flow = await get(session, LinkFlow, ensure_plausible_id(flow_id, "flow"))
    if flow is None or flow.mesh_account_id != mesh:
        raise NotFound(f"Unknown flow '{flow_id}'.")
    return _journal_caller(request, flow.end_user_id), JOURNAL


async def recovery_caller(
    request: web.Request, session: AsyncSession, recovery_id: str
) -> tuple[Caller, str, str | None]:
    """As `flow_caller`, for a recovery; also the flow it was started from (its feed)."""
    mesh = journal_account(request)
    recovery = await get(session, Recovery, ensure_plausible_id(recovery_id, "recovery"))
    flow_id = recovery.flow_id if recovery is not None else None
    if mesh is None:
        return caller(request), BOT, flow_id
    flow = await get(session, LinkFlow, flow_id) if flow_id else None
    if recovery is None or flow is None or flow.mesh_account_id != mesh:
        raise NotFound(f"Unknown recovery '{recovery_id}'.")
    return _journal_caller(request, recovery.end_user_id), JOURNAL, flow_id


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
    mesh = journal_account(request)
    # The window opening a flow of its own (no bot around) owns it as «journal:<account>».
    who = caller(request) if mesh is None else _journal_caller(request, f"journal:{mesh}")
    data = await body(request, schemas.TokenBody)
    backend = request.app[BACKEND]
    async with backend.transaction() as (session, now):
        flow = await backend.flows.start(session, data.token, who, now)
        if mesh is not None and flow.mesh_account_id != mesh:
            raise NotFound("This link token is for another MESH account.")
        await backend.events.after_step(session, flow, None, BOT if mesh is None else JOURNAL, now)
        view = await backend.flows.view(session, flow, now)
    backend.events.notify()
    return json_response(view, 201)


async def restart_flow(request: web.Request) -> web.Response:
    """«Начать заново»: the flow is abandoned; the answer is the fresh flow that replaces it."""
    who = caller(request)
    await body(request, schemas.Empty)
    backend = request.app[BACKEND]
    flow_id = request.match_info["flow_id"]
    async with backend.transaction() as (session, now):
        before = await backend.events.snapshot(session, flow_id)
        flow = await backend.flows.restart(session, flow_id, who, now)
        old = await get(session, LinkFlow, flow_id)
        if old is not None and before is not None:  # its watchers hear that it ended
            await session.refresh(old)
            await backend.events.after_step(session, old, before, BOT, now)
        await backend.events.after_step(session, flow, None, BOT, now)
        view = await backend.flows.view(session, flow, now)
    backend.events.notify()
    return json_response(view, 201)


async def _flow_answer(request: web.Request, step: FlowStep) -> web.Response:
    """Run one flow route for its caller; publish what changed, or the refusal, to the feed."""
    backend = request.app[BACKEND]
    flow_id = request.match_info["flow_id"]
    source = BOT
    before = None
    try:
        async with backend.transaction() as (session, now):
            who, source = await flow_caller(request, session, flow_id)
            before = await backend.events.snapshot(session, flow_id)
            flow = await step(backend, session, flow_id, who, now)
            changed = await backend.events.after_step(session, flow, before, source, now)
            view = await backend.flows.view(session, flow, now)
    except DomainError as error:
        if isinstance(error, ScenarioChanged) and before is not None:
            await _publish_moved(request, flow_id, before, source)  # the step it moved to
        await _publish_refusal(request, flow_id, error, source)
        raise
    if changed:
        backend.events.notify()
    return json_response(view)


async def _publish_moved(request: web.Request, flow_id: str, before: Snapshot, source: str) -> None:
    """A refusal that moved the flow (`scenario_changed`, committed): its new step, too."""
    backend = request.app[BACKEND]
    async with backend.transaction() as (session, now):
        flow = await get(session, LinkFlow, flow_id)
        if flow is not None and await backend.events.after_step(session, flow, before, source, now):
            backend.events.notify()


async def _publish_refusal(
    request: web.Request, flow_id: str | None, error: DomainError, source: str
) -> None:
    """The refusal, in a transaction of its own (the request's rolled back), for the owner."""
    if not flow_id:
        return
    backend = request.app[BACKEND]
    try:
        async with backend.transaction() as (session, now):
            who, source = await flow_caller(request, session, flow_id)
            await backend.flows.load(session, flow_id, who, now)  # strangers publish nothing
            published = await backend.events.refusal(
                session, flow_id, error, source, route_template(request), now
            )
    except DomainError:
        return
    if published:
        backend.events.notify()


async def flow_events(request: web.Request) -> web.Response:
    """`GET /v1/flows/{id}/events?after=<seq>&wait=<s>`: the flow's events after `after`.

    With `wait` (≤ 25 s) the answer is held until an event comes or the time is up (long-poll).
    """
    backend = request.app[BACKEND]
    flow_id = request.match_info["flow_id"]
    after = _int_query(request, "after", 0, 0, 2**62)
    wait = _int_query(request, "wait", 0, 0, MAX_WAIT)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + wait
    while True:
        async with backend.transaction() as (session, now):
            who, _source = await flow_caller(request, session, flow_id)
            flow = await backend.flows.load(session, flow_id, who, now)
            events = await backend.events.since(session, flow_id, after)
            state = flow.state
        left = deadline - loop.time()
        if events or left <= 0:
            break
        await backend.events.wait_for_change(min(POLL_INTERVAL, left))
    last = events[-1]["seq"] if events else after
    return json_response({"flow_id": flow_id, "state": state, "events": events, "next": last})


def _int_query(request: web.Request, name: str, default: int, low: int, high: int) -> int:
    raw = request.query.get(name)
    if raw is None or raw == "":
        return default
    if not raw.isascii() or not raw.isdigit() or not low <= int(raw) <= high:
        raise BadRequest(
            f"`{name}` must be a whole number from {low} to {high}.", fields={name: "invalid"}
        )
    return int(raw)


async def report_window_screen(request: web.Request) -> web.Response:
    """The e-journal's window says which of its screens it shows (those the flow's state cannot
    tell: «Мессенджер не подключен», «Вход в VK ID», the account check): a `screen` event."""
    if journal_account(request) is None:
        raise NotFound("Only the e-journal's window reports its screens.")
    data = await body(request, schemas.WindowScreenBody)
    backend = request.app[BACKEND]
    flow_id = request.match_info["flow_id"]
    async with backend.transaction() as (session, now):
        who, source = await flow_caller(request, session, flow_id)
        flow = await backend.flows.load(session, flow_id, who, now)
        published = await backend.events.screen(session, flow, data.screen, source, now)
    if published:
        backend.events.notify()
    return json_response({"flow_id": flow_id, "screen": data.screen})


async def mesh_account_flow(request: web.Request) -> web.Response:
    """The e-journal's window: the MESH account's newest flow (the one the bot may be on)."""
    mesh = journal_account(request)
    account_id = request.match_info["mesh_account_id"]
    if mesh is None or mesh != account_id:
        raise NotFound(f"Name the MESH account in {MESH_ACCOUNT_HEADER} to read its flow.")
    backend = request.app[BACKEND]
    async with backend.transaction() as (session, now):
        flow = await newest_flow(session, account_id)
        if flow is None:
            raise NotFound("This MESH account has no link flow yet.")
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
    data = await body(request, schemas.RecoveryStartBody)
    backend = request.app[BACKEND]
    source = BOT
    try:
        async with backend.transaction() as (session, now):
            if data.flow_id is not None:
                who, source = await flow_caller(request, session, data.flow_id)
            elif journal_account(request) is not None:
                raise BadRequest("The e-journal recovers from a flow: name its flow_id.")
            else:
                who = caller(request)
            recovery = await backend.recoveries.start(session, data.phone, data.flow_id, who, now)
            published = data.flow_id is not None and await backend.events.recovery(
                session, data.flow_id, recovery.state, None, source, now
            )
            view = await backend.recoveries.view(session, recovery, now)
    except DomainError as error:
        await _publish_refusal(request, data.flow_id, error, source)
        raise
    if published:
        backend.events.notify()
    return json_response(view, 201)


async def _recovery_answer(request: web.Request, step: RecoveryStep) -> web.Response:
    backend = request.app[BACKEND]
    recovery_id = request.match_info["recovery_id"]
    flow_id: str | None = None
    source = BOT
    try:
        async with backend.transaction() as (session, now):
            who, source, flow_id = await recovery_caller(request, session, recovery_id)
            known = await get(session, Recovery, recovery_id)
            before = known.state if known is not None else None
            flow_before = await backend.events.snapshot(session, flow_id)
            recovery = await step(backend, session, recovery_id, who, now)
            published = flow_id is not None and await backend.events.recovery(
                session, flow_id, recovery.state, before, source, now
            )
            flow = await get(session, LinkFlow, flow_id) if flow_before is not None else None
            if flow is not None and flow_before is not None:  # a finished recovery signs it in
                published = (
                    await backend.events.after_step(session, flow, flow_before, source, now)
                    or published
                )
            view: dict[str, Any] = await backend.recoveries.view(session, recovery, now)
    except DomainError as error:
        await _publish_refusal(request, flow_id, error, source)
        raise
    if published:
        backend.events.notify()
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
            web.get(f"{flow}/events", flow_events),
            web.post(f"{flow}/window", report_window_screen),
            web.get("/v1/mesh-accounts/{mesh_account_id}/flow", mesh_account_flow),
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
