"""`LinkingClient`: one method per API operation, over aiohttp, with retries of GETs.

Only GETs are retried: a POST that timed out may have changed state on the server (a code sent,
an attempt counted), so repeating it is the caller's decision, not ours.

Flow and recovery calls act for an end user (the teacher's Telegram user id), sent as
`X-End-User-Id`: `client.for_user(telegram_id)` is a light view of the client for one end user,
sharing its HTTP session; the bot makes one per update. Logs name routes, never ids.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import Awaitable, Callable, Mapping
from datetime import date
from types import TracebackType
from typing import Any, Literal, Self
from urllib.parse import quote

import aiohttp

from services.linking_client.decoding import _decode, _parse
from services.linking_client.errors import BackendUnavailable, LinkingError
from services.linking_client.models import (
    CodeChannel,
    DemoCase,
    DevAccount,
    Flow,
    FlowEvents,
    FriendInbox,
    Gender,
    InboxItem,
    LinkToken,
    Recovery,
    RecoveryMethod,
)
from services.linking_client.parsing import _as_list, _bool, _obj, _str
from services.phones import mask_phone

logger = logging.getLogger(__name__)

END_USER_HEADER = "X-End-User-Id"
MESH_ACCOUNT_HEADER = "X-Mesh-Account-Id"
_END_USER_ID = re.compile(r"^[A-Za-z0-9_:.-]{1,64}$")

CallObserver = Callable[[str, str, float], None]
"""Told of every HTTP attempt: (endpoint, outcome, seconds). The endpoint is the path template
(`/v1/flows/{id}/phone`, never an id); the outcome is `ok` or the error code (`unavailable` for
transport failures)."""


class LinkingClient:
    """Async client of the linking backend. One method per API operation.

    `session` lets the caller share an `aiohttp.ClientSession` (it is then not closed here).
    `timeout` bounds each attempt; `retries` is how many times a GET is repeated after a
    transport failure, waiting `backoff * 2**n` seconds (through `sleep`) before repeat `n`;
    tests pass `backoff=0` or their own `sleep`. `observer` (metrics) hears of every attempt.
    """

    def __init__(
        self,
        base_url: str,
        *,
        api_key: str | None = None,
        timeout: float = 10.0,
        retries: int = 2,
        session: aiohttp.ClientSession | None = None,
        backoff: float = 0.2,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        observer: CallObserver | None = None,
    ) -> None:
        if retries < 0:
            raise ValueError("retries must be >= 0")
        self._base_url = base_url.rstrip("/")
        self._api_key = api_key
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._retries = retries
        self._backoff = backoff
        self._sleep = sleep
        self._session = session
        self._owns_session = session is None
        self._observer = observer
        self._end_user: str | None = None
        self._mesh_account: str | None = None
        self._root: LinkingClient = self

    def for_user(self, end_user_id: int | str) -> LinkingClient:
        """This client acting for one end user (e.g. a Telegram user id): flow and recovery
        calls carry it, and the backend answers that end user's flows only.

        The view shares the HTTP session and settings; closing it does nothing (close the
        client it came from).
        """
        end_user = str(end_user_id)
        if not _END_USER_ID.fullmatch(end_user):
            raise ValueError("an end user id is 1-64 characters of [A-Za-z0-9_:.-]")
        view = self._view()
        view._end_user = end_user
        return view

    def for_journal(self, mesh_account_id: str) -> LinkingClient:
        """This client as the e-journal's linking window of one MESH account (guide mode):
        it sends `X-Mesh-Account-Id` and acts on that account's flows as their end user.

        Give the client the e-journal's API key (`LINKING_JOURNAL_API_KEY`); in a keyless demo
        any client may.
        """
        if not _END_USER_ID.fullmatch(mesh_account_id):
            raise ValueError("a MESH account id is 1-64 characters of [A-Za-z0-9_:.-]")
        view = self._view()
        view._end_user = None
        view._mesh_account = mesh_account_id
        return view

    def _view(self) -> LinkingClient:
        """A shallow copy, as `copy.copy` makes it without its generic protocol (~4× cheaper:
        the bot makes one per update, in bot/middlewares/end_user.py)."""
        view = object.__new__(type(self))
        view.__dict__.update(self.__dict__)
        return view

    @property
    def end_user(self) -> str | None:
        """The end user this view acts for (None for the client itself)."""
        return self._end_user

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    async def close(self) -> None:
        """Close the HTTP session if this client created it (a `for_user` view: nothing)."""
        if self._root is not self:
            return
        if self._owns_session and self._session is not None:
            await self._session.close()
            self._session = None

    def _get_session(self) -> aiohttp.ClientSession:
        root = self._root
        # Created lazily: a ClientSession must be made inside a running event loop.
        if root._session is None or root._session.closed:
            if not root._owns_session:
                raise RuntimeError("the shared aiohttp session is closed")
            root._session = aiohttp.ClientSession()
        return root._session

    # ----------------------------------------------------------------------- transport

    async def _request(
        self,
        method: Literal["GET", "POST"],
        path: str,
        *,
        json_body: Mapping[str, Any] | None = None,
        params: Mapping[str, str] | None = None,
        log_path: str | None = None,
        endpoint: str | None = None,
        hold: float | None = None,
    ) -> Any:
        """Send one call; return the decoded JSON or raise a `LinkingError`.

        `endpoint` is the path template for logs and the observer when the path holds an id;
        `log_path` replaces `path` in logs when the path itself would reveal something.
        """
        attempts = 1 + (self._retries if method == "GET" else 0)
        endpoint = endpoint or path
        shown = log_path or endpoint
        for attempt in range(attempts):
            if attempt:
                delay = self._backoff * 2 ** (attempt - 1)
                if delay > 0:
                    await self._sleep(delay)
            try:
                return await self._attempt(method, path, json_body, params, shown, endpoint, hold)
            except BackendUnavailable as exc:
                if attempt + 1 >= attempts:
                    raise
                logger.warning(
                    "linking %s %s failed (%s), retry %d of %d",
                    method,
                    shown,
                    exc.detail,
                    attempt + 1,
                    attempts - 1,
                )
        raise AssertionError("unreachable")  # pragma: no cover

    async def _attempt(
        self,
        method: str,
        path: str,
        json_body: Mapping[str, Any] | None,
        params: Mapping[str, str] | None,
        shown: str,
        endpoint: str,
        hold: float | None = None,
    ) -> Any:
        started = time.perf_counter()
        outcome = "unavailable"
        try:
            result = await self._send(method, path, json_body, params, shown, hold)
            outcome = "ok"
            return result
        except LinkingError as error:
            outcome = error.code
            raise
        finally:
            if self._observer is not None:
                self._observer(f"{method} {endpoint}", outcome, time.perf_counter() - started)

    async def _send(
        self,
        method: str,
        path: str,
        json_body: Mapping[str, Any] | None,
        params: Mapping[str, str] | None,
        shown: str,
        hold: float | None = None,
    ) -> Any:
        headers = {"Accept": "application/json"}
        if self._api_key:
            headers["Authorization"] = f"Bearer {self._api_key}"
        if self._end_user is not None:
            headers[END_USER_HEADER] = self._end_user
        if self._mesh_account is not None:
            headers[MESH_ACCOUNT_HEADER] = self._mesh_account
        started = time.perf_counter()
        try:
            async with self._get_session().request(
                method,
                self._base_url + path,
                json=json_body,
                params=params,
                headers=headers,
                # A long-poll is held by the server on purpose: its wait comes on top.
                timeout=self._timeout
                if not hold
                else aiohttp.ClientTimeout(total=(self._timeout.total or 0) + hold),
            ) as response:
                status = response.status
                raw = await response.read()
        except TimeoutError as exc:
            logger.warning("linking %s %s timed out", method, shown)
            raise BackendUnavailable.because("The linking service did not answer in time.") from exc
        except aiohttp.ClientError as exc:
            logger.warning("linking %s %s failed: %s", method, shown, type(exc).__name__)
            raise BackendUnavailable.because("The linking service cannot be reached.") from exc
        elapsed_ms = (time.perf_counter() - started) * 1000
        logger.debug("linking %s %s → %d in %.0f ms", method, shown, status, elapsed_ms)
        # The dev endpoints' refusals (no app, no VK ID yet) are answers a poller expects.
        return _decode(status, raw, expected_refusal=path.startswith("/dev/"))

    async def _get(
        self,
        path: str,
        *,
        params: Mapping[str, str] | None = None,
        log_path: str | None = None,
        endpoint: str | None = None,
    ) -> Any:
        return await self._request("GET", path, params=params, log_path=log_path, endpoint=endpoint)

    async def _post(
        self, path: str, body: Mapping[str, Any] | None = None, *, endpoint: str | None = None
    ) -> Any:
        body = body if body is not None else {}
        return await self._request("POST", path, json_body=body, endpoint=endpoint)

    async def _flow_call(self, flow_id: str, action: str, body: Mapping[str, Any]) -> Flow:
        data = await self._post(
            f"/v1/flows/{_seg(flow_id)}/{action}", body, endpoint=f"/v1/flows/{{id}}/{action}"
        )
        return _parse(Flow.from_json, data)

    async def _recovery_call(
        self, recovery_id: str, action: str, body: Mapping[str, Any] | None = None
    ) -> Recovery:
        data = await self._post(
            f"/v1/recoveries/{_seg(recovery_id)}/{action}",
            body,
            endpoint=f"/v1/recoveries/{{id}}/{action}",
        )
        return _parse(Recovery.from_json, data)

    # ----------------------------------------------------------------------- operations

    async def health(self) -> bool:
        """True when the backend answers `{"status": "ok"}`."""
        data = await self._get("/health")
        return isinstance(data, Mapping) and data.get("status") == "ok"

    async def create_link_token(self, mesh_account_id: str) -> LinkToken:
        """Issue a deep-link token for a MESH account (the e-journal's side of the handshake)."""
        data = await self._post("/v1/link-tokens", {"mesh_account_id": mesh_account_id})
        return _parse(LinkToken.from_json, data)

    async def confirm_mesh_phone(self, mesh_account_id: str, phone: str) -> str:
        """The e-journal's side: the teacher confirmed `phone` (E.164) as her number; link
        flows of the MESH account accept it from now on. Returns the masked number."""
        data = await self._post(
            f"/v1/mesh-accounts/{_seg(mesh_account_id)}/phone",
            {"phone": phone},
            endpoint="/v1/mesh-accounts/{id}/phone",
        )
        return _parse(lambda raw: _str(_obj(raw, "phone confirmation"), "phone_masked"), data)

    async def start_flow(self, token: str) -> Flow:
        """Redeem a deep-link token for this end user and open a link flow (state `phone`).

        The token binds to the end user: presented again it raises `TokenUsed` (whose `flow_id`
        names the flow when it is the same end user's).
        """
        return _parse(Flow.from_json, await self._post("/v1/flows", {"token": token}))

    async def get_flow(self, flow_id: str) -> Flow:
        """Read a flow as it is now."""
        data = await self._get(f"/v1/flows/{_seg(flow_id)}", endpoint="/v1/flows/{id}")
        return _parse(Flow.from_json, data)

    async def flow_events(self, flow_id: str, *, after: int = 0, wait: int = 0) -> FlowEvents:
        """The flow's events after `after` (a `seq`); with `wait` seconds (≤ 25) the backend
        holds the answer until one comes (long-poll). Read `next` to go on."""
        data = await self._request(
            "GET",
            f"/v1/flows/{_seg(flow_id)}/events",
            params={"after": str(after), "wait": str(wait)},
            endpoint="/v1/flows/{id}/events",
            hold=float(wait),
        )
        return _parse(FlowEvents.from_json, data)

    async def report_screen(self, flow_id: str, screen: str) -> None:
        """The e-journal's window (`for_journal`): which of its screens it shows now (a screen
        the flow's state cannot tell, e.g. `vkid_phone`); published to the flow's events."""
        await self._request(
            "POST",
            f"/v1/flows/{_seg(flow_id)}/window",
            json_body={"screen": screen},
            endpoint="/v1/flows/{id}/window",
        )

    async def mesh_account_flow(self, mesh_account_id: str) -> Flow:
        """The e-journal's window (`for_journal`): the account's newest flow, open or finished."""
        data = await self._get(
            f"/v1/mesh-accounts/{_seg(mesh_account_id)}/flow",
            endpoint="/v1/mesh-accounts/{id}/flow",
        )
        return _parse(Flow.from_json, data)

    async def submit_phone(self, flow_id: str, phone: str) -> Flow:
        """Give (or change) the VK ID phone, E.164; the backend decides the scenario."""
        return await self._flow_call(flow_id, "phone", {"phone": phone})

    async def submit_password(self, flow_id: str, password: str) -> Flow:
        """Check the VK ID password; on success a call code is sent."""
        return await self._flow_call(flow_id, "password", {"password": password})

    async def send_code(self, flow_id: str, channel: CodeChannel) -> Flow:
        """Ask for a new code by `call` or `sms` (resend or switch channel)."""
        return await self._flow_call(flow_id, "code", {"channel": channel})

    async def verify_code(self, flow_id: str, code: str) -> Flow:
        """Check the confirmation code."""
        return await self._flow_call(flow_id, "code/verify", {"code": code})

    async def choose_profile(self, flow_id: str, profile_id: str) -> Flow:
        """Pick the Sferum profile to link («Ваш профиль для связки»)."""
        return await self._flow_call(flow_id, "profile", {"profile_id": profile_id})

    async def switch_account(self, flow_id: str) -> Flow:
        """Go back to the phone step with another VK ID («Войти в другой аккаунт»)."""
        return await self._flow_call(flow_id, "switch-account", {})

    async def submit_personal_data(
        self, flow_id: str, *, full_name: str, birth_date: date, gender: Gender
    ) -> Flow:
        """Give the real full name, date of birth and gender."""
        body = {"full_name": full_name, "birth_date": birth_date.isoformat(), "gender": gender}
        return await self._flow_call(flow_id, "personal-data", body)

    async def give_consent(self, flow_id: str, *, link: bool) -> Flow:
        """«Привязать» (`link=True`) or «Отмена» (`link=False`)."""
        return await self._flow_call(flow_id, "consent", {"decision": "link" if link else "cancel"})

    async def restart_flow(self, flow_id: str) -> Flow:
        """«Начать заново»: abandon the flow; returns the fresh flow (state `phone`) that
        replaces it, for the same MESH account and end user. Budgets carry over."""
        return await self._flow_call(flow_id, "restart", {})

    async def start_recovery(self, phone: str, *, flow_id: str | None = None) -> Recovery:
        """Start a VK ID password recovery; an SMS code is sent to `phone`."""
        data = await self._post("/v1/recoveries", {"phone": phone, "flow_id": flow_id})
        return _parse(Recovery.from_json, data)

    async def get_recovery(self, recovery_id: str) -> Recovery:
        """Read a recovery as it is now."""
        data = await self._get(
            f"/v1/recoveries/{_seg(recovery_id)}", endpoint="/v1/recoveries/{id}"
        )
        return _parse(Recovery.from_json, data)

    async def resend_recovery_code(self, recovery_id: str) -> Recovery:
        """Send the recovery SMS again (after the cooldown)."""
        return await self._recovery_call(recovery_id, "code")

    async def verify_recovery_code(self, recovery_id: str, code: str) -> Recovery:
        """Check the recovery SMS code."""
        return await self._recovery_call(recovery_id, "code/verify", {"code": code})

    async def confirm_recovery_account(self, recovery_id: str, *, confirmed: bool) -> Recovery:
        """Answer «Это ваш аккаунт?»."""
        return await self._recovery_call(recovery_id, "confirm", {"confirmed": confirmed})

    async def choose_recovery_method(self, recovery_id: str, method: RecoveryMethod) -> Recovery:
        """Choose how to prove the account: code-generator app, e-mail or trusted friends."""
        return await self._recovery_call(recovery_id, "method", {"method": method})

    async def resend_method_code(self, recovery_id: str) -> Recovery:
        """Send the e-mail code again (after the cooldown)."""
        return await self._recovery_call(recovery_id, "method/code")

    async def verify_method_code(self, recovery_id: str, code: str) -> Recovery:
        """Check the app or e-mail code."""
        return await self._recovery_call(recovery_id, "method/verify", {"code": code})

    async def resend_friend_codes(self, recovery_id: str) -> Recovery:
        """New codes for the trusted friends who have not given theirs yet."""
        return await self._recovery_call(recovery_id, "friends/code", {})

    async def verify_friend_code(self, recovery_id: str, code: str) -> Recovery:
        """The code of the next trusted friend still waiting (`Recovery.friends` order)."""
        return await self._recovery_call(recovery_id, "friends/verify", {"code": code})

    async def propose_new_password(self, recovery_id: str, password: str) -> Recovery:
        """Propose the new password; the backend checks it against the policy."""
        return await self._recovery_call(recovery_id, "password", {"password": password})

    async def confirm_new_password(
        self, recovery_id: str, password: str, *, logout_other_sessions: bool
    ) -> Recovery:
        """Repeat the new password; the VK ID password changes («Выйти на всех устройствах…»)."""
        body = {"password": password, "logout_other_sessions": logout_other_sessions}
        return await self._recovery_call(recovery_id, "password/confirm", body)

    # ----------------------------------------------------------------------- dev (demo only)

    async def dev_accounts(self) -> list[DevAccount]:
        """Every demo teacher: the seeded ones (one per case), then those created since."""
        data = await self._get("/dev/accounts")
        return _parse(lambda raw: [DevAccount.from_json(item) for item in _as_list(raw)], data)

    async def dev_account(self, mesh_account_id: str) -> DevAccount:
        """One demo teacher as she is now (current password, link, VPN); NotFound if unknown."""
        data = await self._get(f"/dev/accounts/{_seg(mesh_account_id)}")
        return _parse(DevAccount.from_json, data)

    async def dev_create_account(self, case: DemoCase) -> DevAccount:
        """A fresh demo teacher of `case` (new MESH account, phone and person)."""
        return _parse(DevAccount.from_json, await self._post("/dev/accounts", {"case": case}))

    async def dev_link_token(self, mesh_account_id: str) -> LinkToken:
        """A fresh deep-link token for a demo MESH account."""
        data = await self._post("/dev/link-token", {"mesh_account_id": mesh_account_id})
        return _parse(LinkToken.from_json, data)

    async def dev_inbox(self, phone: str) -> list[InboxItem]:
        """Codes "delivered" to a phone by SMS or call, oldest first."""
        data = await self._get(
            "/dev/inbox", params={"phone": phone}, log_path=f"/dev/inbox?phone={mask_phone(phone)}"
        )
        return _parse(lambda raw: [InboxItem.from_json(item) for item in _as_list(raw)], data)

    async def dev_mailbox(self, email: str) -> list[InboxItem]:
        """Codes "delivered" to an e-mail address, oldest first."""
        data = await self._get("/dev/mailbox", params={"email": email}, log_path="/dev/mailbox")
        return _parse(lambda raw: [InboxItem.from_json(item) for item in _as_list(raw)], data)

    async def dev_totp(self, phone: str) -> str:
        """The authenticator app's current code for the account on `phone`."""
        data = await self._get(
            "/dev/totp", params={"phone": phone}, log_path=f"/dev/totp?phone={mask_phone(phone)}"
        )
        return _parse(lambda raw: _str(_obj(raw, "totp"), "code"), data)

    async def dev_friends(self, phone: str) -> list[FriendInbox]:
        """The trusted friends of the VK ID on `phone`, each with the codes they got (dev)."""
        data = await self._get("/dev/friends", params={"phone": phone}, log_path="/dev/friends")
        return _parse(lambda raw: [FriendInbox.from_json(item) for item in _as_list(raw)], data)

    async def dev_set_vpn(
        self, *, enabled: bool, phone: str | None = None, mesh_account_id: str | None = None
    ) -> bool:
        """Flip the sandbox's "VPN" switch for a phone or a MESH account; returns the new value."""
        if (phone is None) == (mesh_account_id is None):
            raise ValueError("give exactly one of phone or mesh_account_id")
        body: dict[str, Any] = {"enabled": enabled}
        if phone is not None:
            body["phone"] = phone
        else:
            body["mesh_account_id"] = mesh_account_id
        data = await self._post("/dev/vpn", body)
        return _parse(lambda raw: _bool(_obj(raw, "vpn"), "enabled"), data)


def _seg(identifier: str) -> str:
    """Quote an id as one path segment, so `../x` or `a/b` can never reach another route."""
    return quote(identifier, safe="")
