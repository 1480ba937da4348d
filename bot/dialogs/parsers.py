"""Reading what a teacher types at the step windows (no Telegram here).

Each parser returns the value or raises `InputProblem` (a ValueError, as aiogram-dialog's
`TextInput(type_factory=…)` expects) whose `key` names the hint to show (bot/dialogs/notices.py).
Checks that need the dialog (today's date, the length of the code in flight) are separate
functions that raise the same way.
"""

from __future__ import annotations

import re
from datetime import date
from typing import Any

from services.phones import normalize_ru_phone

MIN_AGE = 18
MAX_AGE = 100
MAX_NAME_LENGTH = 100
MAX_CODE_LENGTH = 8  # longer digit strings are not a code of any channel

_MONTHS = {
    "январ": 1,
    "феврал": 2,
    "март": 3,
    "апрел": 4,
    "ма": 5,  # мая, май
    "июн": 6,
    "июл": 7,
    "август": 8,
    "сентябр": 9,
    "октябр": 10,
    "ноябр": 11,
    "декабр": 12,
    "jan": 1,
    "feb": 2,
    "mar": 3,
    "apr": 4,
    "may": 5,
    "jun": 6,
    "jul": 7,
    "aug": 8,
    "sep": 9,
    "oct": 10,
    "nov": 11,
    "dec": 12,
}
_NAME_WORD = re.compile(r"^[А-ЯЁа-яё]+(?:-[А-ЯЁа-яё]+)*$")
_NUMERIC_DMY = re.compile(r"^(\d{1,2})[./\-\s](\d{1,2})[./\-\s](\d{4})$")
_NUMERIC_YMD = re.compile(r"^(\d{4})[./\-](\d{1,2})[./\-](\d{1,2})$")
_WORDY = re.compile(r"^(\d{1,2})\s+([A-Za-zА-Яа-яЁё]+)\.?\s+(\d{4})(?:\s*(?:г|года?)\.?)?$")


class InputProblem(ValueError):
    """The input cannot be used; `key` names the hint (bot.dialogs.notices.HINTS), `params`
    fill it."""

    def __init__(self, key: str, **params: Any) -> None:
        super().__init__(key)
        self.key = key
        self.params = params


def parse_phone(text: str) -> str:
    """«8 (916) 123-45-67», «+7 916 1234567» → "+79161234567"; a Russian mobile number only."""
    phone = normalize_ru_phone(text)
    if phone is None:
        raise InputProblem("phone_format")
    return phone


def parse_password(text: str) -> str:
    """Any non-blank text is a password attempt: the backend judges it, the bot never keeps it."""
    if not text.strip():
        raise InputProblem("password_empty")
    return text


def parse_full_name(text: str) -> str:
    """«иванова  мария петровна» → «Иванова Мария Петровна»: Cyrillic words, at least two."""
    words = text.split()
    if (
        len(words) < 2
        or len(words) > 5
        or len(" ".join(words)) > MAX_NAME_LENGTH
        or not all(_NAME_WORD.match(word) for word in words)
    ):
        raise InputProblem("name_format")
    return " ".join("-".join(part.capitalize() for part in w.split("-")) for w in words)


def _month(word: str) -> int | None:
    word = word.lower()
    # Longest stem first so that «мар(т)» is not taken for «ма(й)».
    for stem in sorted(_MONTHS, key=len, reverse=True):
        if word.startswith(stem):
            return _MONTHS[stem]
    return None


def parse_date(text: str) -> date:
    """14.03.1985, 14/03/1985, 14-03-1985, 1985-03-14, «14 марта 1985 г.» → a real date."""
    text = text.strip().lower()
    day = month = year = None
    if match := _NUMERIC_DMY.match(text):
        day, month, year = (int(g) for g in match.groups())
    elif match := _NUMERIC_YMD.match(text):
        year, month, day = (int(g) for g in match.groups())
    elif match := _WORDY.match(text):
        day, year = int(match.group(1)), int(match.group(3))
        month = _month(match.group(2))
    if day is None or month is None or year is None:
        raise InputProblem("date_format")
    try:
        return date(year, month, day)
    except ValueError as exc:
        raise InputProblem("date_format") from exc


def check_birth_date(born: date, today: date) -> date:
    """`born` if it makes the teacher 18–100 years old `today`."""
    if born > today:
        raise InputProblem("date_future")
    age = today.year - born.year - ((today.month, today.day) < (born.month, born.day))
    if age < MIN_AGE:
        raise InputProblem("date_too_young")
    if age > MAX_AGE:
        raise InputProblem("date_too_old")
    return born


def parse_code_digits(text: str) -> str:
    """«12 34», «1234», «12-34-56» → "1234…": ASCII digits only, at most MAX_CODE_LENGTH."""
    digits = re.sub(r"[\s\-]", "", text)
    if not digits.isascii() or not digits.isdigit() or len(digits) > MAX_CODE_LENGTH:
        raise InputProblem("code_format")
    return digits


def check_code_length(digits: str, length: int) -> str:
    """`digits` if there are exactly `length` of them (the code in flight says how many)."""
    if len(digits) != length:
        raise InputProblem("code_format", length=length)
    return digits
