"""Masking of anything that could be a secret before a text is stored or shown to operators.

The bot never keeps passwords or confirmation codes. Texts typed in a secret step are replaced as a
whole; elsewhere, word by word:
- digit runs of three digits or more (codes, the last digits of a calling number, card numbers,
  dates) become «•••»; phone numbers keep only their last two digits (+7 *** ***-**-67);
- words that look like passwords (letters mixed with digits or symbols, 6+ characters);
- long Latin single-word tokens (16+ characters: API keys, link tokens, letters-only passwords);
- the Latin word right after «пароль», «password», «код», «pin»… («пароль: sunflower»);
- a message that is one Latin word of 8+ characters (a password pasted alone);
- the query of a link (…?•••), where tokens travel.
Masking errs on the side of hiding: an operator can ask again, a leaked password cannot be unsent.
"""

from __future__ import annotations

import re

from services.phones import mask_phone, normalize_ru_phone

SECRET_PLACEHOLDER = "•••"
HIDDEN_MESSAGE = "[•••]"  # a whole message typed where a password or code is expected

_PHONE = re.compile(r"(?<![\w+])(?:\+7|8|7)?[\s(-]*9\d{2}[\s)-]*\d{3}[\s-]*\d{2}[\s-]*\d{2}(?!\w)")
# Every match of _PHONE holds a 9 and two digits in a row: a text without them has no phone, and
# searching for that literal start is ~60× cheaper than trying _PHONE at every position.
_PHONE_DIGITS = re.compile(r"9\d\d")
_DIGIT_RUN = re.compile(r"\d(?:[\s.\-]?\d){2,}")
_TOKEN = re.compile(r"\S+")
_COMMAND = re.compile(r"/[a-z_]+")
_EDGE_PUNCTUATION = ".,!?;:()«»\"'"
_SPECIALS = set("!@#$%^&*_+=~|<>?/\\{}[]`")
_MIN_PASSWORD_LENGTH = 6
_MIN_TOKEN_LENGTH = 16
_MIN_LONE_WORD_LENGTH = 8
_LATIN_WORD = re.compile(r"[A-Za-z0-9_\-.+/=~]+")
_URL = re.compile(r"(?i)\b(https?://[^\s?#]+)\?\S+")
# «пароль: Sunflower», «my password is sunflower», «код — abcd»: the next Latin word is the secret.
_SECRET_AFTER = re.compile(
    r"(?i)(?<!\w)(парол\w*|password|passwd|pass|pwd|код\w*|code|pin|пин)(?!\w)"
    r"(\s*(?:[:=\-—–]|is|это)?\s*)([A-Za-z0-9][^\s,;]*)"
)


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


def _looks_like_token(word: str) -> bool:
    return len(word) >= _MIN_TOKEN_LENGTH and bool(_LATIN_WORD.fullmatch(word))


def _mask_token(match: re.Match[str]) -> str:
    token = match.group(0)
    word = token.strip(_EDGE_PUNCTUATION)
    if word and (_looks_like_password(word) or _looks_like_token(word)):
        return token.replace(word, SECRET_PLACEHOLDER)
    return token


def _mask_after_keyword(match: re.Match[str]) -> str:
    keyword, gap, word = match.groups()
    if word.lower() in {"is", "from", "the", "sms"} or word.startswith(SECRET_PLACEHOLDER):
        return match.group(0)
    return f"{keyword}{gap}{SECRET_PLACEHOLDER}"


def _is_lone_latin_word(text: str) -> bool:
    word = text.strip().strip(_EDGE_PUNCTUATION)
    return (
        len(word) >= _MIN_LONE_WORD_LENGTH
        and bool(_LATIN_WORD.fullmatch(word))
        and any(ch.isalpha() for ch in word)  # a phone number alone is masked as a phone
        and not word.startswith("/")
    )


def mask_secrets(text: str) -> str:
    """Return `text` with phone numbers masked and codes / password-like words replaced."""
    if _is_lone_latin_word(text):
        return SECRET_PLACEHOLDER
    masked = _URL.sub(lambda m: f"{m.group(1)}?{SECRET_PLACEHOLDER}", text)
    # Password-like words first: a password needs a letter, so phone numbers are left whole.
    masked = mask_bot_text(_TOKEN.sub(_mask_token, masked))
    return _SECRET_AFTER.sub(_mask_after_keyword, masked)


def has_secrets(text: str) -> bool:
    """Whether `mask_secrets` hides anything in `text` (the helpdesk says so under the copy)."""
    return mask_secrets(text) != text


def mask_bot_text(text: str) -> str:
    """The bot's own texts hold no passwords; only phone numbers and digit runs are masked."""
    if _PHONE_DIGITS.search(text):
        text = _PHONE.sub(_mask_phone_match, text)
    return _DIGIT_RUN.sub(SECRET_PLACEHOLDER, text)


def mask_message(text: str, *, secret_step: bool) -> str:
    """What may be stored of a teacher's message: nothing at all when typed in a secret step."""
    return HIDDEN_MESSAGE if secret_step else mask_secrets(text)
