"""Masking of anything that could be a secret before a text is stored or shown to operators.

The bot never keeps passwords or confirmation codes. Texts typed in a secret step are replaced as a
whole; elsewhere, digit runs (codes, the last digits of a calling number, dates), phone numbers and
tokens that look like passwords (letters mixed with digits or symbols) are masked word by word.
"""

from __future__ import annotations

import re

from services.phones import mask_phone, normalize_ru_phone

SECRET_PLACEHOLDER = "•••"
HIDDEN_MESSAGE = "[•••]"  # a whole message typed where a password or code is expected

_PHONE = re.compile(r"(?<![\w+])(?:\+7|8|7)?[\s(-]*9\d{2}[\s)-]*\d{3}[\s-]*\d{2}[\s-]*\d{2}(?!\w)")
_DIGIT_RUN = re.compile(r"\d(?:[\s.\-]?\d){2,}")
_TOKEN = re.compile(r"\S+")
_COMMAND = re.compile(r"/[a-z_]+")
_EDGE_PUNCTUATION = ".,!?;:()«»\"'"
_SPECIALS = set("!@#$%^&*_+=~|<>?/\\{}[]`")
_MIN_PASSWORD_LENGTH = 6


def _mask_phone_match(match: re.Match[str]) -> str:
    normalized = normalize_ru_phone(match.group(0))
    return mask_phone(normalized) if normalized else SECRET_PLACEHOLDER


def _looks_like_password(word: str) -> bool:
    if len(word) < _MIN_PASSWORD_LENGTH or word.lower().startswith(("http://", "https://")):
        return False
    if _COMMAND.fullmatch(word):  # /start, /help
        return False
    has_letter = any(ch.isalpha() for ch in word)
    has_digit = any(ch.isdigit() for ch in word)
    has_symbol = any(ch in _SPECIALS for ch in word)
    return has_letter and (has_digit or has_symbol)


def _mask_token(match: re.Match[str]) -> str:
    token = match.group(0)
    word = token.strip(_EDGE_PUNCTUATION)
    if word and _looks_like_password(word):
        return token.replace(word, SECRET_PLACEHOLDER)
    return token


def mask_secrets(text: str) -> str:
    """Return `text` with phone numbers masked and codes / password-like words replaced."""
    # Password-like words first: a password needs a letter, so phone numbers are left whole.
    masked = _TOKEN.sub(_mask_token, text)
    return mask_bot_text(masked)


def mask_bot_text(text: str) -> str:
    """The bot's own texts hold no passwords; only phone numbers and digit runs are masked."""
    return _DIGIT_RUN.sub(SECRET_PLACEHOLDER, _PHONE.sub(_mask_phone_match, text))


def mask_message(text: str, *, secret_step: bool) -> str:
    """What may be stored of a teacher's message: nothing at all when typed in a secret step."""
    return HIDDEN_MESSAGE if secret_step else mask_secrets(text)
