"""Checks of «Информация о себе»: real full name, date of birth, gender."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

from services.linking.errors import InvalidPersonalData
from services.linking.settings import LinkingSettings

# Cyrillic words, optionally double-barrelled (Петрова-Водкина) or with an apostrophe.
_CYRILLIC_WORD = re.compile(r"^[А-Яа-яЁё]+(?:[-'’][А-Яа-яЁё]+)*$")
GENDERS = ("female", "male")
_MAX_NAME_WORDS = 5
_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


@dataclass(frozen=True)
class PersonalData:
    full_name: str
    birth_date: date
    gender: str


def _age_on(birth_date: date, today: date) -> int:
    before_birthday = (today.month, today.day) < (birth_date.month, birth_date.day)
    return today.year - birth_date.year - before_birthday


def validate_personal_data(
    settings: LinkingSettings, full_name: str, birth_date: str, gender: str, today: date
) -> PersonalData:
    """Return normalised data, or raise `invalid_personal_data` with a reason per bad field."""
    reasons: dict[str, str] = {}

    words = full_name.split()
    normalised_name = " ".join(words)
    if not all(_CYRILLIC_WORD.fullmatch(word) for word in words) or not words:
        reasons["full_name"] = "not_cyrillic" if words else "too_short"
    elif len(words) < 2:
        reasons["full_name"] = "too_short"
    elif len(normalised_name) > settings.full_name_max_length or len(words) > _MAX_NAME_WORDS:
        reasons["full_name"] = "too_long"

    born: date | None = None
    try:
        born = date.fromisoformat(birth_date) if _ISO_DATE.fullmatch(birth_date) else None
    except ValueError:
        born = None
    if born is None or born > today:
        reasons["birth_date"] = "invalid"
    elif _age_on(born, today) < settings.min_teacher_age:
        reasons["birth_date"] = "too_young"
    elif _age_on(born, today) > settings.max_teacher_age:
        reasons["birth_date"] = "too_old"

    if gender not in GENDERS:
        reasons["gender"] = "invalid"

    if reasons:
        raise InvalidPersonalData(reasons)
    assert born is not None
    return PersonalData(normalised_name, born, gender)
