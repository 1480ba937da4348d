"""Russian mobile phone numbers: normalising what teachers type, masking what we log or show."""

from __future__ import annotations

import phonenumbers
from phonenumbers import NumberParseException, PhoneNumberFormat, PhoneNumberType

# Longer input is not a phone number someone typed; refusing it early keeps parsing cheap.
_MAX_INPUT_LENGTH = 64
_RU_COUNTRY_CODE = 7
_RU_MOBILE_NATIONAL_LENGTH = 10
_MOBILE_TYPES = frozenset({PhoneNumberType.MOBILE, PhoneNumberType.FIXED_LINE_OR_MOBILE})


def normalize_ru_phone(text: str) -> str | None:
    """Return the Russian mobile number in `text` as E.164 (`+79161234567`), or None.

    Accepts the usual ways of writing one: `8 916 123-45-67`, `+7 (916) 123 45 67`, `9161234567`,
    `79161234567`, a Telegram contact's `79161234567`. Landlines, Kazakh `+7 7xx` numbers, foreign
    numbers, numbers with an extension and anything that is not a valid number give None.
    """
    text = text.strip()
    if not text or len(text) > _MAX_INPUT_LENGTH:
        return None
    try:
        number = phonenumbers.parse(text, "RU")
    except NumberParseException:
        return None
    if (
        number.country_code != _RU_COUNTRY_CODE
        or number.extension
        or not phonenumbers.is_valid_number(number)
        or phonenumbers.region_code_for_number(number) != "RU"
        or phonenumbers.number_type(number) not in _MOBILE_TYPES
    ):
        return None
    return phonenumbers.format_number(number, PhoneNumberFormat.E164)


def mask_phone(e164: str) -> str:
    """Mask a Russian E.164 number for logs and screens: `+79161234567` → `+7 *** ***-**-67`.

    Only the last two digits stay visible. Anything that is not a `+7` ten-digit number is masked
    completely (`***`), so a malformed value can never leak into a log.
    """
    digits = e164.removeprefix("+")
    national = digits[1:]
    if (
        not e164.startswith("+7")
        or not (digits.isascii() and digits.isdigit())
        or len(national) != _RU_MOBILE_NATIONAL_LENGTH
    ):
        return "***"
    return f"+7 *** ***-**-{national[-2:]}"
