"""Russian mobile numbers: validation and the masks shown to the teacher and in logs.

The rule for what a Russian mobile number is and the log mask are the shared ones of
services/phones.py; the backend adds only its stricter input (E.164 as sent, not as typed).
"""

from __future__ import annotations

import re

from services.linking.errors import PhoneInvalid
from services.phones import mask_phone as mask_e164
from services.phones import normalize_ru_phone

# The API takes E.164 as the client sends it; typed forms (`8 916 …`) are the client's to normalise.
# ASCII digits only: `\d` would let "+7٩١٦…" through as a second spelling of one number.
_E164_RU_MOBILE = re.compile(r"^\+79[0-9]{9}$")


def validate_phone(phone: str) -> str:
    """Return the phone when it is a Russian mobile number in E.164, else raise PhoneInvalid.

    Only the one canonical spelling (ASCII digits) is accepted, so one number is one VK ID.
    """
    if not _E164_RU_MOBILE.fullmatch(phone) or normalize_ru_phone(phone) != phone:
        raise PhoneInvalid()
    return phone


def mask_phone(phone: str | None) -> str | None:
    """`+79161234577` → `+7 *** ***-**-77` (the only form phones appear in logs), None → None."""
    if not phone:
        return None
    return mask_e164(phone)


def format_phone(phone: str) -> str:
    """`+79001234567` → `+7 900 123-45-67` (how a calling number reads on screen)."""
    digits = phone[2:]
    return f"+7 {digits[0:3]} {digits[3:6]}-{digits[6:8]}-{digits[8:10]}"


def mask_email(email: str | None) -> str | None:
    """`katerina@mail.ru` → `ka***@mail.ru`, as in the seed."""
    if not email or "@" not in email:
        return None
    local, domain = email.split("@", 1)
    return f"{local[:2]}***@{domain}"


def mask_name(first_name: str, last_name: str) -> str:
    """«Мария И.»: the first name and the surname's initial."""
    return f"{first_name} {last_name[:1]}." if last_name else first_name
