"""Phone numbers as teachers type them, and as logs may show them."""

from __future__ import annotations

import pytest

from services.phones import mask_phone, normalize_ru_phone


@pytest.mark.parametrize(
    "typed",
    [
        "8 916 123-45-67",
        "+7 (916) 123 45 67",
        "9161234567",
        "79161234567",
        "89161234567",
        "+79161234567",
        "916 123 45 67",
        "8-916-123-45-67",
        "  +7 916 123-45-67  ",
        "8 (916) 123-45-67",
    ],
)
def test_teacher_types_her_mobile_any_usual_way_and_gets_e164(typed: str) -> None:
    assert normalize_ru_phone(typed) == "+79161234567"


@pytest.mark.parametrize(
    ("typed", "why"),
    [
        ("+7 495 123-45-67", "Moscow landline"),
        ("8 495 123 45 67", "Moscow landline, national form"),
        ("+7 701 123 45 67", "Kazakh mobile shares +7"),
        ("+1 650 253 0000", "foreign number"),
        ("+7 916 123 45 6", "one digit short"),
        ("+7 916 123 45 678", "one digit too many"),
        ("8-916-123-45-67 доб 5", "extension"),
        ("123", "too short"),
        ("не помню", "not a number"),
        ("", "empty"),
        ("   ", "blank"),
        ("9" * 500, "huge input"),
        ("+7 916 123 45 67 " + "x" * 60, "longer than any phone"),
    ],
)
def test_anything_but_a_russian_mobile_is_refused(typed: str, why: str) -> None:
    assert normalize_ru_phone(typed) is None, why


def test_mask_shows_only_the_last_two_digits() -> None:
    assert mask_phone("+79161234567") == "+7 *** ***-**-67"
    assert mask_phone("+79001234577") == "+7 *** ***-**-77"


@pytest.mark.parametrize(
    "broken", ["", "+7916", "79161234567", "+1 650 253 0000", "+7916123456x", "+7９１６1234567"]
)
def test_mask_hides_everything_of_a_malformed_value(broken: str) -> None:
    assert mask_phone(broken) == "***"


def test_normalised_numbers_mask_cleanly() -> None:
    e164 = normalize_ru_phone("8 (999) 765-43-21")
    assert e164 == "+79997654321"
    assert mask_phone(e164) == "+7 *** ***-**-21"
