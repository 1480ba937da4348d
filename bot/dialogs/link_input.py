"""Reading what a teacher types at the personal-data and code steps (no Telegram here).

Each parser returns the value or raises `InputProblem` whose `key` names the hint to show.
"""

from __future__ import annotations

import re
from datetime import date

MIN_AGE = 18
MAX_AGE = 100
MAX_NAME_LENGTH = 100

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
    """The input cannot be used; `key` is the hint in bot.dialogs.common.HINTS."""

    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


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


def parse_birth_date(text: str, today: date) -> date:
    """14.03.1985, 14/03/1985, 14-03-1985, 1985-03-14, «14 марта 1985 г.»; age 18–100."""
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
        born = date(year, month, day)
    except ValueError as exc:
        raise InputProblem("date_format") from exc
    if born > today:
        raise InputProblem("date_future")
    age = today.year - born.year - ((today.month, today.day) < (born.month, born.day))
    if age < MIN_AGE:
        raise InputProblem("date_too_young")
    if age > MAX_AGE:
        raise InputProblem("date_too_old")
    return born


def parse_code(text: str, length: int) -> str:
    """«12 34», «1234», «12-34-56» → digits; exactly `length` of them."""
    digits = re.sub(r"[\s\-]", "", text)
    if not digits.isascii() or not digits.isdigit() or len(digits) != length:
        raise InputProblem("code_format")
    return digits
