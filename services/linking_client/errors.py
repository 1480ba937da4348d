"""Refusals of the backend: `LinkingError`, one subclass per API error code, and the registry
that picks the subclass by `code`. `BackendUnavailable` stands for every transport failure."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from services.linking_client.models import Profile
from services.linking_client.parsing import _MalformedAnswer


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


class MethodNotAllowed(LinkingError):
    error_code = "method_not_allowed"


class PayloadTooLarge(LinkingError):
    error_code = "payload_too_large"


class TokenInvalid(LinkingError):
    error_code = "token_invalid"


class TokenExpired(LinkingError):
    error_code = "token_expired"


class TokenUsed(LinkingError):
    """The link token was redeemed already; `flow_id` is its flow when this end user redeemed it."""

    error_code = "token_used"

    @property
    def flow_id(self) -> str | None:
        value = self.payload.get("flow_id")
        return value if isinstance(value, str) else None


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


class ScenarioChanged(LinkingError):
    """A profile (or VK ID) appeared for the phone meanwhile: the flow now goes on in
    `scenario` at `state` (B: choose the existing profile). Read the flow and follow it."""

    error_code = "scenario_changed"

    @property
    def scenario(self) -> str | None:
        value = self.payload.get("scenario")
        return value if isinstance(value, str) else None


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


class RateLimited(LinkingError):
    """A budget or quota is spent (codes to a number, an end user's or the API key's quota…);
    `retry_after` seconds until it has room, `limit` names it."""

    error_code = "rate_limited"

    @property
    def limit(self) -> str | None:
        value = self.payload.get("limit")
        return value if isinstance(value, str) else None


class ConfirmationLocked(LinkingError):
    """Too many wrong codes for the number, address or app: locked for `retry_after` seconds;
    the teacher should turn to the helpdesk."""

    error_code = "confirmation_locked"


class PhoneMismatch(LinkingError):
    """The number is not the MESH account's; `mesh_phone_masked` is the one the e-journal has."""

    error_code = "phone_mismatch"

    @property
    def mesh_phone_masked(self) -> str | None:
        value = self.payload.get("mesh_phone_masked")
        return value if isinstance(value, str) else None


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
