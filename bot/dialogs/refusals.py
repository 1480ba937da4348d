"""What a backend refusal means for the teacher: one friendly, specific, translated sentence.

`refusal_snapshot` keeps what is needed to say it again later (JSON-able, no secrets);
`explain_refusal` says it. Every error code of the linking API has its own explanation.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from aiogram.utils.i18n import gettext as _
from aiogram.utils.i18n import lazy_gettext as __
from aiogram.utils.i18n import ngettext

from bot.dialogs.countdown import deadline, format_clock, seconds_until
from services.linking_client import LinkingError


def attempts_text(attempts_left: int) -> str:
    return ngettext("{n} attempt left.", "{n} attempts left.", attempts_left).format(
        n=attempts_left
    )


_PERSONAL_DATA_REASONS: dict[tuple[str, str], Any] = {
    ("full_name", "not_cyrillic"): __(
        "The full name must be written in Russian letters, as in your passport."
    ),
    ("full_name", "too_short"): __("Please give at least your surname and first name."),
    ("full_name", "too_long"): __("The full name is too long."),
    ("birth_date", "invalid"): __("The date of birth is not a real date."),
    ("birth_date", "too_young"): __("The date of birth says you are under 18."),
    ("birth_date", "too_old"): __("The date of birth says you are over 100."),
    ("gender", "invalid"): __("Please choose the gender with a button."),
}

_WEAK_PASSWORD_RULES: dict[str, Any] = {
    "min_length": __("at least 8 characters"),
    "uppercase": __("a capital letter"),
    "lowercase": __("a small letter"),
    "digit": __("a digit"),
    "special": __("a special character such as ! # $ % *"),
}


def refusal_snapshot(error: LinkingError, at: datetime) -> dict[str, Any]:
    """What to remember of a refusal to explain it again later (JSON-able, no secrets)."""
    snapshot: dict[str, Any] = {"code": error.code, "at": at.isoformat()}
    if error.attempts_left is not None:
        snapshot["attempts_left"] = error.attempts_left
    if error.retry_after is not None:
        snapshot["retry_after"] = error.retry_after
    for key in ("fields", "unmet", "state", "mesh_phone_masked"):
        value = error.payload.get(key)
        if isinstance(value, dict | list | str):
            snapshot[key] = value
    return snapshot


def _remaining(snapshot: Mapping[str, Any], at: datetime | None) -> int:
    """Seconds left of the refusal's waiting time, counted from when it was noted."""
    retry_after = int(snapshot.get("retry_after") or 0)
    noted = snapshot.get("at")
    if at is None or not noted:
        return retry_after
    return seconds_until(deadline(retry_after, datetime.fromisoformat(noted)), at)


def explain_refusal(error: LinkingError | Mapping[str, Any], at: datetime | None = None) -> str:
    """A friendly, specific, translated explanation of a backend refusal.

    `error` is the exception or a `refusal_snapshot`; with `at`, waiting times count down from
    when the refusal happened.
    """
    snapshot = (
        refusal_snapshot(error, at or datetime.now(UTC))
        if isinstance(error, LinkingError)
        else dict(error)
    )
    code = snapshot.get("code", "")
    attempts = snapshot.get("attempts_left")
    wait = _remaining(snapshot, at)

    if code == "wrong_password":
        text = _("The VK ID password is not right.")
        if attempts is not None:
            text += " " + attempts_text(attempts)
        return text
    if code == "password_locked":
        return _(
            "Too many wrong passwords, so VK ID has paused password entry. "
            "Please try again in {wait}, or restore the password with "
            "«Забыли или не установили пароль?»."
        ).format(wait=format_clock(wait))
    if code == "code_invalid":
        text = _("The code is not right.")
        if attempts is not None:
            text += " " + attempts_text(attempts)
        return text
    if code == "resend_too_early":
        if wait <= 0:
            return _("You can ask for a new code now.")
        # As the VK ID windows count it («Отправить SMS через 1:15»), like every wait here.
        return _("A new code can be requested in {wait}. Please wait a little.").format(
            wait=format_clock(wait)
        )
    if code == "rate_limited":
        return _(
            "Too many requests in a short time. For your safety, please try again in {wait}."
        ).format(wait=format_clock(wait))
    if code == "confirmation_locked":
        # «через 22:13:20», never «на 22:13:20»: a bare clock after «на» reads as a time of day.
        return _(
            "Too many wrong codes were entered for this number. For your safety, confirmation "
            "is locked: you can try again in {wait}. Please turn to the helpdesk: "
            "«It doesn't work» → «🙋 Call a specialist»."
        ).format(wait=format_clock(wait))
    if code == "phone_mismatch":
        return _(
            "This is not the number in your e-journal profile ({phone}). Please send that "
            "number, or first confirm the new number in the e-journal, then send it here again."
        ).format(phone=snapshot.get("mesh_phone_masked") or "—")
    if code == "invalid_personal_data":
        fields = snapshot.get("fields") or {}
        reasons = [
            str(_PERSONAL_DATA_REASONS[(name, reason)])
            for name, reason in fields.items()
            if (name, reason) in _PERSONAL_DATA_REASONS
        ]
        return " ".join(reasons) or _("Please check your full name, date of birth and gender.")
    if code == "weak_password":
        unmet = [
            str(_WEAK_PASSWORD_RULES[r])
            for r in snapshot.get("unmet") or []
            if r in _WEAK_PASSWORD_RULES
        ]
        # The rule itself is on the window above: say only what this password lacks.
        if unmet:
            return _("The new password is too simple. Missing: {rules}.").format(
                rules=", ".join(unmet)
            )
        return _("The new password is too simple: please check it against the rule above.")
    simple = _SIMPLE_EXPLANATIONS.get(code)
    if simple is not None:
        return str(simple)
    return _("Something went wrong on the linking service's side. Please try again.")


_SIMPLE_EXPLANATIONS: dict[str, Any] = {
    "bad_request": __("The linking service did not understand the request. Please try again."),
    "unauthorized": __(
        "The assistant could not sign in to the linking service. Please ask the helpdesk."
    ),
    "not_found": __(
        "The linking service no longer knows this linking. Please open the assistant again "
        "from the e-journal («Перейти к подключению»)."
    ),
    "payload_too_large": __("That message is too long. Please send something shorter."),
    "token_invalid": __(
        "This link is not valid. Please open the assistant again from the e-journal: "
        "the messenger icon → «Перейти к подключению»."
    ),
    "token_expired": __(
        "This link has expired. Please open the assistant again from the e-journal: "
        "the messenger icon → «Перейти к подключению» gives a fresh link."
    ),
    "token_used": __(
        "This link has already been used. Please open the assistant again from the e-journal: "
        "the messenger icon → «Перейти к подключению»."
    ),
    "already_linked": __("Your e-journal account is already linked to a Sferum profile."),
    "flow_expired": __(
        "This linking session has expired. Please open the assistant again from the e-journal "
        "(«Перейти к подключению»), and we will start afresh."
    ),
    "wrong_state": __("This step has already been done. Here is where you are now."),
    "phone_invalid": __(
        "This does not look like a Russian mobile number. Please check it, for example "
        "+7 916 123-45-67."
    ),
    "vpn_detected": __(
        "Linking does not work while a VPN is on. Please turn the VPN off on this device "
        "and press the button below."
    ),
    "code_expired": __("The code has expired. Please ask for a new code."),
    "code_burnt": __(
        "Too many wrong codes, so this code no longer works. Please ask for a new code."
    ),
    "no_active_code": __("There is no active code right now. Please ask for a new code."),
    "channel_unavailable": __("This way of getting a code is not available for your account."),
    "unknown_account": __("There is no VK ID account with this phone number."),
    "password_mismatch": __("The passwords do not match. Please enter the new password again."),
    "unavailable": __(
        "The linking service is not answering right now. Nothing is lost: press «Retry» in a "
        "minute."
    ),
}
