"""Typed async client of the linking backend's HTTP API (docs/linking-api.md).

The bot talks to the backend only through `LinkingClient`, so a real VK ID / Sferum backend can
replace the simulation without touching the bot. Every answer becomes a frozen dataclass, every
refusal a `LinkingError` subclass chosen by its `code`, and every transport failure (connection,
timeout, 5xx, an answer that is not the expected JSON) a `BackendUnavailable`.

Only GETs are retried: a POST that timed out may have changed state on the server (a code sent,
an attempt counted), so repeating it is the caller's decision, not ours.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from enum import StrEnum
from types import TracebackType
from typing import Any, ClassVar, Literal, Self, TypeVar, cast
from urllib.parse import quote

import aiohttp

from services.phones import mask_phone

logger = logging.getLogger(__name__)

_E = TypeVar("_E", bound=StrEnum)
_T = TypeVar("_T")

Channel = Literal["call", "sms", "email", "totp"]
CodeChannel = Literal["call", "sms"]
RecoveryMethod = Literal["totp", "email", "friends"]
Gender = Literal["female", "male"]
DemoCase = Literal[
    "no_vkid",
    "vkid_no_profile",
    "profile_exists",
    "profile_exists_authorised",
    "already_linked",
    "forgot_password_email",
    "forgot_password_app",
    "forgot_password_friends",
    "vpn",
]

_CHANNELS: frozenset[str] = frozenset({"call", "sms", "email", "totp"})
_GENDERS: frozenset[str] = frozenset({"female", "male"})
_RECOVERY_METHODS: frozenset[str] = frozenset({"totp", "email", "friends"})


class FlowState(StrEnum):
    PHONE = "phone"
    PASSWORD = "password"
    CODE = "code"
    PROFILE = "profile"
    PERSONAL_DATA = "personal_data"
    CONSENT = "consent"
    LINKED = "linked"
    CANCELLED = "cancelled"


class RecoveryState(StrEnum):
    CODE = "code"
    CONFIRM_ACCOUNT = "confirm_account"
    METHOD = "method"
    METHOD_CODE = "method_code"
    NEW_PASSWORD = "new_password"
    REPEAT_PASSWORD = "repeat_password"
    DONE = "done"
    FRIENDS = "friends"
    CANCELLED = "cancelled"


class Scenario(StrEnum):
    NEW_PROFILE = "new_profile"
    EXISTING_PROFILE = "existing_profile"
    REGISTRATION = "registration"


# --------------------------------------------------------------------------- parsing helpers


class _MalformedAnswer(ValueError):
    """The server's JSON does not have the documented shape."""


def _obj(value: Any, what: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise _MalformedAnswer(f"{what}: expected an object")
    return value


def _str(data: Mapping[str, Any], key: str) -> str:
    value = data.get(key)
    if not isinstance(value, str):
        raise _MalformedAnswer(f"{key}: expected a string")
    return value


def _opt_str(data: Mapping[str, Any], key: str) -> str | None:
    value = data.get(key)
    if value is not None and not isinstance(value, str):
        raise _MalformedAnswer(f"{key}: expected a string or null")
    return value


def _int(data: Mapping[str, Any], key: str) -> int:
    value = data.get(key)
    # bool is an int subclass; a `true` where a count belongs is a broken answer.
    if not isinstance(value, int) or isinstance(value, bool):
        raise _MalformedAnswer(f"{key}: expected an integer")
    return value


def _opt_int(data: Mapping[str, Any], key: str) -> int | None:
    return None if data.get(key) is None else _int(data, key)


def _bool(data: Mapping[str, Any], key: str) -> bool:
    value = data.get(key)
    if not isinstance(value, bool):
        raise _MalformedAnswer(f"{key}: expected a boolean")
    return value


def _opt_bool(data: Mapping[str, Any], key: str) -> bool | None:
    return None if data.get(key) is None else _bool(data, key)


def _choice(data: Mapping[str, Any], key: str, allowed: frozenset[str]) -> Any:
    value = _str(data, key)
    if value not in allowed:
        raise _MalformedAnswer(f"{key}: unexpected value {value!r}")
    return value


def parse_datetime(text: str) -> datetime:
    """Parse an ISO 8601 time from the API into an aware UTC datetime (naive means UTC)."""
    try:
        moment = datetime.fromisoformat(text)
    except ValueError as exc:
        raise _MalformedAnswer(f"not an ISO 8601 time: {text!r}") from exc
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def _datetime(data: Mapping[str, Any], key: str) -> datetime:
    return parse_datetime(_str(data, key))


def _opt_datetime(data: Mapping[str, Any], key: str) -> datetime | None:
    text = _opt_str(data, key)
    return None if text is None else parse_datetime(text)


def _date(data: Mapping[str, Any], key: str) -> date:
    text = _str(data, key)
    try:
        return date.fromisoformat(text)
    except ValueError as exc:
        raise _MalformedAnswer(f"{key}: not a date: {text!r}") from exc


def _enum(data: Mapping[str, Any], key: str, enum: type[_E]) -> _E:
    value = _str(data, key)
    try:
        return enum(value)
    except ValueError as exc:
        raise _MalformedAnswer(f"{key}: unexpected value {value!r}") from exc


def _list(data: Mapping[str, Any], key: str) -> list[Any]:
    value = data.get(key, [])
    if not isinstance(value, list):
        raise _MalformedAnswer(f"{key}: expected a list")
    return value


# --------------------------------------------------------------------------- result types


@dataclass(frozen=True, slots=True)
class MeshAccount:
    """The teacher's account in the MESH e-journal."""

    id: str
    full_name: str
    school: str

    @classmethod
    def from_json(cls, data: Any) -> MeshAccount:
        data = _obj(data, "mesh_account")
        return cls(
            id=_str(data, "id"), full_name=_str(data, "full_name"), school=_str(data, "school")
        )


@dataclass(frozen=True, slots=True)
class Profile:
    """A Sferum profile (existing, or the one just linked)."""

    profile_id: str
    full_name: str
    birth_date: date
    gender: Gender
    school: str

    @classmethod
    def from_json(cls, data: Any) -> Profile:
        data = _obj(data, "profile")
        return cls(
            profile_id=_str(data, "profile_id"),
            full_name=_str(data, "full_name"),
            birth_date=_date(data, "birth_date"),
            gender=_choice(data, "gender", _GENDERS),
            school=_str(data, "school"),
        )


@dataclass(frozen=True, slots=True)
class VkAccountView:
    """What the backend reveals about a VK ID account: a masked name, and whether this device's
    session is already authorised (then scenario B skips the password). Recoveries carry only
    the name; `session_authorised` is False there."""

    masked_name: str
    session_authorised: bool = False

    @classmethod
    def from_json(cls, data: Any) -> VkAccountView:
        data = _obj(data, "vk_account")
        return cls(
            masked_name=_str(data, "masked_name"),
            session_authorised=_opt_bool(data, "session_authorised") or False,
        )


@dataclass(frozen=True, slots=True)
class PersonalData:
    """Name, birth date and gender as the teacher entered them (or prefilled from a profile)."""

    full_name: str
    birth_date: date
    gender: Gender

    @classmethod
    def from_json(cls, data: Any) -> PersonalData:
        data = _obj(data, "personal_data")
        return cls(
            full_name=_str(data, "full_name"),
            birth_date=_date(data, "birth_date"),
            gender=_choice(data, "gender", _GENDERS),
        )


@dataclass(frozen=True, slots=True)
class Challenge:
    """A confirmation code in flight.

    `resend_after` and `expires_at` are as the server saw them when it answered; the helpers
    below let the bot count down without asking again.
    """

    challenge_id: str
    channel: Channel
    code_length: int
    sent_to: str | None
    expires_at: datetime
    resend_available_at: datetime | None
    resend_after: int
    attempts_left: int

    @classmethod
    def from_json(cls, data: Any) -> Challenge:
        data = _obj(data, "challenge")
        return cls(
            challenge_id=_str(data, "challenge_id"),
            channel=_choice(data, "channel", _CHANNELS),
            code_length=_int(data, "code_length"),
            sent_to=_opt_str(data, "sent_to"),
            expires_at=_datetime(data, "expires_at"),
            resend_available_at=_opt_datetime(data, "resend_available_at"),
            resend_after=_opt_int(data, "resend_after") or 0,
            attempts_left=_int(data, "attempts_left"),
        )

    @property
    def can_resend(self) -> bool:
        """Whether a new code could be asked for at the time of the answer."""
        return self.resend_after <= 0

    def seconds_until_resend(self, now: datetime) -> int:
        """Whole seconds from `now` until a new code may be asked for (0 = now).

        Uses the server's absolute time when given (it survives a restart of the bot); falls
        back to `resend_after`, which is only meaningful at response time.
        """
        if self.resend_available_at is None:
            return max(self.resend_after, 0)
        return max(0, _ceil_seconds(self.resend_available_at - now))

    def seconds_until_expiry(self, now: datetime) -> int:
        """Whole seconds from `now` until the code expires (0 = expired)."""
        return max(0, _ceil_seconds(self.expires_at - now))

    def is_expired(self, now: datetime) -> bool:
        """Whether the code is past its expiry at `now`."""
        return now >= self.expires_at


def _ceil_seconds(delta: timedelta) -> int:
    seconds = delta.total_seconds()
    whole = int(seconds)
    return whole + 1 if seconds > whole else whole


@dataclass(frozen=True, slots=True)
class Flow:
    """One teacher's link flow: MESH account → VK ID → Sferum profile."""

    flow_id: str
    state: FlowState
    scenario: Scenario | None
    mesh_account: MeshAccount
    phone_masked: str | None
    vk_account: VkAccountView | None
    challenge: Challenge | None
    profiles: tuple[Profile, ...]
    personal_data: PersonalData | None
    linked_profile: Profile | None
    expires_at: datetime

    @classmethod
    def from_json(cls, data: Any) -> Flow:
        data = _obj(data, "flow")
        scenario = data.get("scenario")
        vk_account = data.get("vk_account")
        challenge = data.get("challenge")
        personal_data = data.get("personal_data")
        linked_profile = data.get("linked_profile")
        return cls(
            flow_id=_str(data, "flow_id"),
            state=_enum(data, "state", FlowState),
            scenario=None if scenario is None else _enum(data, "scenario", Scenario),
            mesh_account=MeshAccount.from_json(data.get("mesh_account")),
            phone_masked=_opt_str(data, "phone_masked"),
            vk_account=None if vk_account is None else VkAccountView.from_json(vk_account),
            challenge=None if challenge is None else Challenge.from_json(challenge),
            profiles=tuple(Profile.from_json(item) for item in _list(data, "profiles")),
            personal_data=None if personal_data is None else PersonalData.from_json(personal_data),
            linked_profile=None if linked_profile is None else Profile.from_json(linked_profile),
            expires_at=_datetime(data, "expires_at"),
        )

    @property
    def is_finished(self) -> bool:
        """Linked or cancelled: no further step is possible."""
        return self.state in (FlowState.LINKED, FlowState.CANCELLED)

    @property
    def needs_password(self) -> bool:
        """Whether the next step is the VK ID password."""
        return self.state is FlowState.PASSWORD


@dataclass(frozen=True, slots=True)
class Recovery:
    """A VK ID password recovery."""

    recovery_id: str
    state: RecoveryState
    phone_masked: str
    account: VkAccountView | None
    methods: tuple[RecoveryMethod, ...]
    email_masked: str | None
    challenge: Challenge | None
    logout_other_sessions: bool | None

    @classmethod
    def from_json(cls, data: Any) -> Recovery:
        data = _obj(data, "recovery")
        account = data.get("account")
        challenge = data.get("challenge")
        methods = _list(data, "methods")
        if not all(isinstance(m, str) and m in _RECOVERY_METHODS for m in methods):
            raise _MalformedAnswer("methods: unexpected value")
        return cls(
            recovery_id=_str(data, "recovery_id"),
            state=_enum(data, "state", RecoveryState),
            phone_masked=_str(data, "phone_masked"),
            account=None if account is None else VkAccountView.from_json(account),
            methods=tuple(methods),
            email_masked=_opt_str(data, "email_masked"),
            challenge=None if challenge is None else Challenge.from_json(challenge),
            logout_other_sessions=_opt_bool(data, "logout_other_sessions"),
        )

    @property
    def is_finished(self) -> bool:
        """Done, cancelled, or handed over to trusted friends (outside the bot)."""
        return self.state in (RecoveryState.DONE, RecoveryState.CANCELLED, RecoveryState.FRIENDS)


@dataclass(frozen=True, slots=True)
class LinkToken:
    """A one-time deep-link ticket for one MESH account.

    `POST /v1/link-tokens` gives `expires_at`; `POST /dev/link-token` gives `deep_link_payload`.
    """

    token: str
    expires_at: datetime | None = None
    deep_link_payload: str | None = None

    @classmethod
    def from_json(cls, data: Any) -> LinkToken:
        data = _obj(data, "link token")
        return cls(
            token=_str(data, "token"),
            expires_at=_opt_datetime(data, "expires_at"),
            deep_link_payload=_opt_str(data, "deep_link_payload"),
        )


@dataclass(frozen=True, slots=True)
class DevAccount:
    """A demo account of the simulation (dev endpoints only)."""

    mesh_account_id: str
    full_name: str
    phone: str
    email: str | None
    vk_password: str | None
    case: DemoCase

    @classmethod
    def from_json(cls, data: Any) -> DevAccount:
        data = _obj(data, "dev account")
        return cls(
            mesh_account_id=_str(data, "mesh_account_id"),
            full_name=_str(data, "full_name"),
            phone=_str(data, "phone"),
            email=_opt_str(data, "email"),
            vk_password=_opt_str(data, "vk_password"),
            case=cast(DemoCase, _str(data, "case")),
        )

    def __repr__(self) -> str:
        # Keep the demo password and the full phone out of logs and test failure output.
        return (
            f"DevAccount(mesh_account_id={self.mesh_account_id!r}, case={self.case!r}, "
            f"phone={mask_phone(self.phone)!r})"
        )


@dataclass(frozen=True, slots=True)
class InboxItem:
    """A code "delivered" to the dev inbox (SMS, call) or mailbox (e-mail)."""

    channel: Channel
    code: str
    text: str
    at: datetime

    @classmethod
    def from_json(cls, data: Any) -> InboxItem:
        data = _obj(data, "inbox item")
        return cls(
            channel=_choice(data, "channel", _CHANNELS),
            code=_str(data, "code"),
            text=_str(data, "text"),
            at=_datetime(data, "at"),
        )


# --------------------------------------------------------------------------- errors


class LinkingError(Exception):
    """A refusal from the backend (or `BackendUnavailable` for transport failures).

    `code` is the API's error code; `payload` is the whole `error` object as received, for fields
    the subclasses do not lift out.
    """

    code: str
    _registry: ClassVar[dict[str, type[LinkingError]]] = {}
    error_code: ClassVar[str | None] = None

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if cls.error_code is not None:
            if cls.error_code in LinkingError._registry:
                raise TypeError(f"duplicate error code {cls.error_code!r}")
            LinkingError._registry[cls.error_code] = cls

    def __init__(
        self,
        code: str,
        detail: str = "",
        status: int | None = None,
        attempts_left: int | None = None,
        retry_after: int | None = None,
        payload: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(code, detail)
        self.code = code
        self.detail = detail
        self.status = status
        self.attempts_left = attempts_left
        self.retry_after = retry_after
        self.payload: Mapping[str, Any] = payload if payload is not None else {}

    def __str__(self) -> str:
        where = f" (HTTP {self.status})" if self.status else ""
        return f"{self.code}{where}: {self.detail}" if self.detail else f"{self.code}{where}"

    def __repr__(self) -> str:
        return f"{type(self).__name__}(code={self.code!r}, status={self.status!r})"

    @staticmethod
    def error_class(code: str) -> type[LinkingError]:
        """The exception class for an API error code; plain `LinkingError` for unknown codes."""
        return LinkingError._registry.get(code, LinkingError)

    @classmethod
    def from_error_body(cls, status: int, error: Mapping[str, Any]) -> LinkingError:
        """Build the right exception from a parsed `{"error": {...}}` object."""
        code = error.get("code")
        detail = error.get("detail")
        attempts_left = error.get("attempts_left")
        retry_after = error.get("retry_after")
        return LinkingError.error_class(str(code))(
            str(code),
            detail if isinstance(detail, str) else "",
            status,
            attempts_left if _is_count(attempts_left) else None,
            retry_after if _is_count(retry_after) else None,
            error,
        )


def _is_count(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


class BackendUnavailable(LinkingError):
    """The backend could not be reached, timed out, failed (5xx) or answered nonsense."""

    error_code = "unavailable"

    @classmethod
    def because(
        cls, detail: str, *, status: int | None = None, payload: Mapping[str, Any] | None = None
    ) -> BackendUnavailable:
        """The exception for a transport failure described by `detail`."""
        return cls("unavailable", detail, status, payload=payload)


class BadRequest(LinkingError):
    error_code = "bad_request"

    @property
    def fields(self) -> dict[str, str]:
        return _str_dict(self.payload.get("fields"))


class Unauthorized(LinkingError):
    error_code = "unauthorized"


class NotFound(LinkingError):
    error_code = "not_found"


class PayloadTooLarge(LinkingError):
    error_code = "payload_too_large"


class TokenInvalid(LinkingError):
    error_code = "token_invalid"


class TokenExpired(LinkingError):
    error_code = "token_expired"


class TokenUsed(LinkingError):
    error_code = "token_used"


class AlreadyLinked(LinkingError):
    """The MESH account is already linked; `profile` is the Sferum profile it is linked to."""

    error_code = "already_linked"

    @property
    def profile(self) -> Profile | None:
        raw = self.payload.get("profile")
        if raw is None:
            return None
        try:
            return Profile.from_json(raw)
        except _MalformedAnswer:
            return None


class FlowExpired(LinkingError):
    error_code = "flow_expired"


class WrongState(LinkingError):
    """The call does not fit the current state; `state` is the state the server is in."""

    error_code = "wrong_state"

    @property
    def state(self) -> str | None:
        value = self.payload.get("state")
        return value if isinstance(value, str) else None


class PhoneInvalid(LinkingError):
    error_code = "phone_invalid"


class VpnDetected(LinkingError):
    error_code = "vpn_detected"


class WrongPassword(LinkingError):
    error_code = "wrong_password"


class PasswordLocked(LinkingError):
    error_code = "password_locked"


class ResendTooEarly(LinkingError):
    error_code = "resend_too_early"


class CodeInvalid(LinkingError):
    error_code = "code_invalid"


class CodeExpired(LinkingError):
    error_code = "code_expired"


class CodeBurnt(LinkingError):
    error_code = "code_burnt"


class NoActiveCode(LinkingError):
    error_code = "no_active_code"


class ChannelUnavailable(LinkingError):
    error_code = "channel_unavailable"


class UnknownAccount(LinkingError):
    error_code = "unknown_account"


class InvalidPersonalData(LinkingError):
    """`fields` maps `full_name` / `birth_date` / `gender` to a reason code (`too_young`, …)."""

    error_code = "invalid_personal_data"

    @property
    def fields(self) -> dict[str, str]:
        return _str_dict(self.payload.get("fields"))


class WeakPassword(LinkingError):
    """`unmet` lists the broken policy rules: `min_length`, `uppercase`, `lowercase`, …"""

    error_code = "weak_password"

    @property
    def unmet(self) -> tuple[str, ...]:
        raw = self.payload.get("unmet")
        if not isinstance(raw, list):
            return ()
        return tuple(item for item in raw if isinstance(item, str))


class PasswordMismatch(LinkingError):
    error_code = "password_mismatch"


def _str_dict(raw: Any) -> dict[str, str]:
    if not isinstance(raw, Mapping):
        return {}
    return {str(key): str(value) for key, value in raw.items()}


# Statuses aiohttp (or a proxy) may answer with a non-JSON body before our handlers run.
_STATUS_FALLBACK: dict[int, type[LinkingError]] = {
    400: BadRequest,
    401: Unauthorized,
    404: NotFound,
    413: PayloadTooLarge,
}


# --------------------------------------------------------------------------- the client


class LinkingClient:
    """Async client of the linking backend. One method per API operation.

    `session` lets the caller share an `aiohttp.ClientSession` (it is then not closed here).
    `timeout` bounds each attempt; `retries` is how many times a GET is repeated after a
    transport failure, waiting `backoff * 2**n` seconds (through `sleep`) before repeat `n`;
    tests pass `backoff=0` or their own `sleep`.
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
        """Close the HTTP session if this client created it."""
        if self._owns_session and self._session is not None:
            await self._session.close()
            self._session = None

    def _get_session(self) -> aiohttp.ClientSession:
        # Created lazily: a ClientSession must be made inside a running event loop.
        if self._session is None or self._session.closed:
            if not self._owns_session:
                raise RuntimeError("the shared aiohttp session is closed")
            self._session = aiohttp.ClientSession()
        return self._session

    # ----------------------------------------------------------------------- transport

    async def _request(
        self,
        method: Literal["GET", "POST"],
        path: str,
        *,
        json_body: Mapping[str, Any] | None = None,
        params: Mapping[str, str] | None = None,
        log_path: str | None = None,
    ) -> Any:
        """Send one call; return the decoded JSON or raise a `LinkingError`.

        `log_path` replaces `path` in logs when the path itself would reveal something.
        """
        attempts = 1 + (self._retries if method == "GET" else 0)
        shown = log_path or path
        for attempt in range(attempts):
            if attempt:
                delay = self._backoff * 2 ** (attempt - 1)
                if delay > 0:
                    await self._sleep(delay)
            try:
                return await self._attempt(method, path, json_body, params, shown)
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
    ) -> Any:
        headers = {"Accept": "application/json"}
        if self._api_key:
            headers["Authorization"] = f"Bearer {self._api_key}"
        started = time.perf_counter()
        try:
            async with self._get_session().request(
                method,
                self._base_url + path,
                json=json_body,
                params=params,
                headers=headers,
                timeout=self._timeout,
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
        return _decode(status, raw)

    async def _get(
        self, path: str, *, params: Mapping[str, str] | None = None, log_path: str | None = None
    ) -> Any:
        return await self._request("GET", path, params=params, log_path=log_path)

    async def _post(self, path: str, body: Mapping[str, Any] | None = None) -> Any:
        return await self._request("POST", path, json_body=body if body is not None else {})

    async def _flow_call(self, flow_id: str, action: str, body: Mapping[str, Any]) -> Flow:
        return _parse(Flow.from_json, await self._post(f"/v1/flows/{_seg(flow_id)}/{action}", body))

    async def _recovery_call(
        self, recovery_id: str, action: str, body: Mapping[str, Any] | None = None
    ) -> Recovery:
        data = await self._post(f"/v1/recoveries/{_seg(recovery_id)}/{action}", body)
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

    async def start_flow(self, token: str) -> Flow:
        """Redeem a deep-link token and open a link flow (state `phone`)."""
        return _parse(Flow.from_json, await self._post("/v1/flows", {"token": token}))

    async def get_flow(self, flow_id: str) -> Flow:
        """Read a flow as it is now."""
        return _parse(Flow.from_json, await self._get(f"/v1/flows/{_seg(flow_id)}"))

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

    async def start_recovery(self, phone: str, *, flow_id: str | None = None) -> Recovery:
        """Start a VK ID password recovery; an SMS code is sent to `phone`."""
        data = await self._post("/v1/recoveries", {"phone": phone, "flow_id": flow_id})
        return _parse(Recovery.from_json, data)

    async def get_recovery(self, recovery_id: str) -> Recovery:
        """Read a recovery as it is now."""
        data = await self._get(f"/v1/recoveries/{_seg(recovery_id)}")
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
        """The demo accounts, one per case (demo backends only)."""
        data = await self._get("/dev/accounts")
        return _parse(lambda raw: [DevAccount.from_json(item) for item in _as_list(raw)], data)

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


# --------------------------------------------------------------------------- decoding


def _seg(identifier: str) -> str:
    """Quote an id as one path segment, so `../x` or `a/b` can never reach another route."""
    return quote(identifier, safe="")


def _as_list(raw: Any) -> Sequence[Any]:
    if not isinstance(raw, list):
        raise _MalformedAnswer("expected a list")
    return raw


def _parse(parser: Callable[[Any], _T], data: Any) -> _T:
    try:
        return parser(data)
    except _MalformedAnswer as exc:
        logger.warning("linking backend answered an unexpected shape: %s", exc)
        raise BackendUnavailable.because(
            f"The linking service gave an unexpected answer ({exc})."
        ) from exc


def _decode(status: int, raw: bytes) -> Any:
    """Turn a status and body into data, or raise the matching `LinkingError`."""
    try:
        data: Any = json.loads(raw) if raw else None
        is_json = True
    except (UnicodeDecodeError, json.JSONDecodeError):
        data, is_json = None, False

    if status >= 500:
        raise BackendUnavailable.because(
            f"The linking service failed (HTTP {status}).",
            status=status,
            payload=_error_object(data) or {},
        )
    if 200 <= status < 300:
        if not is_json or data is None:
            raise BackendUnavailable.because(
                "The linking service gave an answer that is not JSON.", status=status
            )
        return data

    error = _error_object(data)
    if error is not None and isinstance(error.get("code"), str):
        exc = LinkingError.from_error_body(status, error)
        logger.info("linking refused: %s (HTTP %d)", exc.code, status)
        raise exc
    fallback = _STATUS_FALLBACK.get(status)
    if fallback is not None:
        raise fallback(fallback.error_code or "", f"HTTP {status}", status)
    raise BackendUnavailable.because(
        f"The linking service gave an unexpected answer (HTTP {status}).", status=status
    )


def _error_object(data: Any) -> Mapping[str, Any] | None:
    if isinstance(data, Mapping) and isinstance(data.get("error"), Mapping):
        return cast(Mapping[str, Any], data["error"])
    return None


__all__ = [
    "AlreadyLinked",
    "BackendUnavailable",
    "BadRequest",
    "Challenge",
    "ChannelUnavailable",
    "CodeBurnt",
    "CodeChannel",
    "CodeExpired",
    "CodeInvalid",
    "DevAccount",
    "Flow",
    "FlowExpired",
    "FlowState",
    "Gender",
    "InboxItem",
    "InvalidPersonalData",
    "LinkToken",
    "LinkingClient",
    "LinkingError",
    "MeshAccount",
    "NoActiveCode",
    "NotFound",
    "PasswordLocked",
    "PasswordMismatch",
    "PayloadTooLarge",
    "PersonalData",
    "PhoneInvalid",
    "Profile",
    "Recovery",
    "RecoveryMethod",
    "RecoveryState",
    "ResendTooEarly",
    "Scenario",
    "TokenExpired",
    "TokenInvalid",
    "TokenUsed",
    "Unauthorized",
    "UnknownAccount",
    "VkAccountView",
    "VpnDetected",
    "WeakPassword",
    "WrongPassword",
    "WrongState",
    "parse_datetime",
]
