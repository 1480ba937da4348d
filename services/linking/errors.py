"""Typed refusals of the backend; each maps onto the API's `{"error": {...}}` body."""

from __future__ import annotations

import re
from typing import Any, ClassVar


class DomainError(Exception):
    """A refusal with a stable `code`, an HTTP status and optional extra fields.

    `keeps_changes` marks refusals that are themselves recorded events (a wrong code uses an
    attempt, a wrong password counts towards the lock): the request's transaction is committed
    before the error is answered. Every other refusal rolls back, so it never changes state.
    """

    code: ClassVar[str] = "bad_request"
    status: ClassVar[int] = 400
    default_detail: ClassVar[str] = "The request is invalid."
    keeps_changes: bool = False  # a class default; one refusal may say otherwise

    def __init__(
        self, detail: str | None = None, *, keeps_changes: bool | None = None, **extra: Any
    ) -> None:
        self.detail = detail or self.default_detail
        self.extra = {key: value for key, value in extra.items() if value is not None}
        if keeps_changes is not None:  # this refusal records (or does not record) an event
            self.keeps_changes = keeps_changes
        super().__init__(f"{self.code}: {self.detail}")

    def body(self) -> dict[str, Any]:
        """The JSON error body."""
        return {"error": {"code": self.code, "detail": self.detail, **self.extra}}


class BadRequest(DomainError):
    code, status, default_detail = "bad_request", 400, "The request body is invalid."

    def __init__(self, detail: str | None = None, *, fields: dict[str, str] | None = None) -> None:
        super().__init__(detail, fields=fields)


class Unauthorized(DomainError):
    code, status, default_detail = "unauthorized", 401, "A valid API key is required."


class NotFound(DomainError):
    code, status, default_detail = "not_found", 404, "Nothing is known under this id."


class MethodNotAllowed(DomainError):
    code, status, default_detail = "method_not_allowed", 405, "This method is not allowed here."


class PayloadTooLarge(DomainError):
    code, status, default_detail = "payload_too_large", 413, "The request body is too large."


class TokenInvalid(DomainError):
    code, status, default_detail = "token_invalid", 400, "The link token is not valid."


class TokenExpired(DomainError):
    code, status, default_detail = "token_expired", 410, "The link token has expired."


class TokenUsed(DomainError):
    code, status, default_detail = "token_used", 409, "The link token has already been used."


class AlreadyLinked(DomainError):
    code, status = "already_linked", 409
    default_detail = "This MESH account is already linked to a Sferum profile."


class ScenarioChanged(DomainError):
    """The phone's VK ID or Sferum profile appeared while the teacher went through the steps;
    the flow has been moved to the scenario that fits it now (recorded, so it keeps changes)."""

    code, status = "scenario_changed", 409
    default_detail = (
        "A Sferum profile (or VK ID) appeared for this phone meanwhile; the flow continues in "
        "the scenario that fits it now."
    )
    keeps_changes = True

    def __init__(self, scenario: str, state: str) -> None:
        super().__init__(scenario=scenario, state=state)


class FlowExpired(DomainError):
    code, status, default_detail = "flow_expired", 410, "The flow has expired; start again."


class WrongState(DomainError):
    code, status = "wrong_state", 409
    default_detail = "This step does not fit the current state."

    def __init__(self, state: str | None, detail: str | None = None) -> None:
        super().__init__(detail or f"Not allowed in state '{state}'.", state=state)


class PhoneInvalid(DomainError):
    code, status = "phone_invalid", 422
    default_detail = "Not a Russian mobile number in E.164 (+79XXXXXXXXX)."


class VpnDetected(DomainError):
    code, status = "vpn_detected", 403
    default_detail = "Linking does not work with VPN turned on. Turn VPN off and try again."


class WrongPassword(DomainError):
    code, status, default_detail = "wrong_password", 422, "The VK ID password is wrong."
    keeps_changes = True


class PasswordLocked(DomainError):
    code, status = "password_locked", 423
    default_detail = "Too many wrong passwords; try later or recover the password."
    keeps_changes = True


class ResendTooEarly(DomainError):
    code, status, default_detail = "resend_too_early", 429, "A new code cannot be sent yet."


class RateLimited(DomainError):
    """A budget or quota is spent; `retry_after` says when it has room again, `limit` which."""

    code, status = "rate_limited", 429
    default_detail = "Too many requests of this kind; try again later."

    def __init__(self, retry_after: int, limit: str, detail: str | None = None) -> None:
        super().__init__(detail, retry_after=retry_after, limit=limit)


class ConfirmationLocked(DomainError):
    """Too many wrong codes for a phone number, e-mail or code-generator app: locked for hours.

    Raised by the wrong code that reaches the limit (that attempt is recorded) and by every
    later attempt to send or check a code for the destination until the lock runs out.
    """

    code, status = "confirmation_locked", 423
    default_detail = (
        "Too many wrong codes for this phone number or address: confirmation is locked for "
        "your safety. Contact the helpdesk."
    )


class PhoneMismatch(DomainError):
    code, status = "phone_mismatch", 422
    default_detail = (
        "This is not the phone number of the MESH account. Use that number, or confirm the new "
        "number in the e-journal first."
    )


class CodeInvalid(DomainError):
    code, status, default_detail = "code_invalid", 422, "The code is wrong."
    keeps_changes = True


class CodeExpired(DomainError):
    code, status, default_detail = "code_expired", 410, "The code has expired; ask for a new one."


class CodeBurnt(DomainError):
    code, status = "code_burnt", 410
    default_detail = "Too many wrong codes; ask for a new one."
    keeps_changes = True


class NoActiveCode(DomainError):
    code, status, default_detail = "no_active_code", 409, "There is no code to check; ask for one."


class ChannelUnavailable(DomainError):
    code, status = "channel_unavailable", 422
    default_detail = "This confirmation method is not available for the account."


class UnknownAccount(DomainError):
    code, status, default_detail = "unknown_account", 404, "No VK ID is registered to this phone."


class InvalidPersonalData(DomainError):
    code, status, default_detail = "invalid_personal_data", 422, "Personal data rejected."

    def __init__(self, fields: dict[str, str]) -> None:
        super().__init__(None, fields=fields)


class WeakPassword(DomainError):
    code, status = "weak_password", 422
    default_detail = (
        "At least 8 characters: upper and lower case letters, digits and special characters."
    )

    def __init__(self, unmet: list[str], detail: str | None = None) -> None:
        super().__init__(detail, unmet=unmet)


class PasswordMismatch(DomainError):
    code, status = "password_mismatch", 422
    default_detail = "The passwords differ; enter the new password again."
    keeps_changes = True  # the proposal is dropped: the teacher starts the new password over


class Internal(DomainError):
    code, status, default_detail = "internal", 500, "Internal error."


_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


def ensure_plausible_id(value: str, what: str) -> str:
    """Ids are short url-safe strings; anything else is unknown without asking the database."""
    if not _ID.fullmatch(value):
        raise NotFound(f"Unknown {what}.")
    return value
