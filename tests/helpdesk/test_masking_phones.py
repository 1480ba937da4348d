"""`mask_bot_text` skips the phone pattern only where it cannot match: same result as before."""

from __future__ import annotations

import pytest

from services.helpdesk.masking import _DIGIT_RUN, _PHONE, SECRET_PLACEHOLDER, mask_bot_text
from services.helpdesk.masking import _mask_phone_match as mask_match

PHONES = (
    "+7 916 123-45-67",
    "8 (916) 123 45 67",
    "89161234567",
    "+7(999)1234567",
    "9161234567",
    "7 916 1234567",
    "8-916-123-45-67",
)
TEXTS = (
    "Ваш номер {} — верно?",
    "{}",
    "Телефон: {}. Код придёт в SMS.",
    "Шаг 3 из 6\n\nНомер {}, дата 01.02.1990",
)


def _unfiltered(text: str) -> str:
    return _DIGIT_RUN.sub(SECRET_PLACEHOLDER, _PHONE.sub(mask_match, text))


@pytest.mark.parametrize("phone", PHONES)
@pytest.mark.parametrize("template", TEXTS)
def test_phones_in_bot_texts_masked_as_before(template: str, phone: str) -> None:
    text = template.format(phone)
    assert mask_bot_text(text) == _unfiltered(text)
    assert "123" not in mask_bot_text(text)  # the number never shows


@pytest.mark.parametrize(
    "text", ["Шаг 3 из 6", "Код 123 456", "Дата 01.02.1990, сумма 800 ₽", "без цифр", ""]
)
def test_texts_without_a_phone_unchanged_in_behaviour(text: str) -> None:
    assert mask_bot_text(text) == _unfiltered(text)
