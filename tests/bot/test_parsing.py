"""What teachers type at the data steps, and how refusals read (no Telegram involved)."""

from __future__ import annotations

from datetime import date

import pytest
from aiogram.utils.i18n import I18n

from bot.dialogs.countdown import format_clock
from bot.dialogs.parsers import (
    InputProblem,
    check_birth_date,
    check_code_length,
    parse_code_digits,
    parse_date,
    parse_full_name,
    parse_password,
    parse_phone,
)
from bot.dialogs.refusals import explain_refusal
from bot.i18n import create_i18n
from services.linking_client import LinkingError

TODAY = date(2026, 11, 25)


def parse_birth_date(text: str, today: date) -> date:
    """As the date-of-birth window reads it: the date's form, then the age on `today`."""
    return check_birth_date(parse_date(text), today)


def parse_code(text: str, length: int) -> str:
    """As a code window reads it: digits, then as many as the code in flight has."""
    return check_code_length(parse_code_digits(text), length)


@pytest.mark.parametrize(
    "typed",
    [
        "14.03.1985",
        "14/03/1985",
        "14-03-1985",
        "1985-03-14",
        "14 марта 1985",
        "14 марта 1985 г.",
        "14 March 1985",
        " 14.3.1985 ",
    ],
)
def test_birth_date_in_common_forms(typed: str) -> None:
    assert parse_birth_date(typed, TODAY) == date(1985, 3, 14)


def test_may_is_not_march() -> None:
    assert parse_birth_date("1 мая 1980", TODAY) == date(1980, 5, 1)


@pytest.mark.parametrize(
    ("typed", "problem"),
    [
        ("31.02.1985", "date_format"),
        ("вчера", "date_format"),
        ("01.01.2030", "date_future"),
        ("01.01.2015", "date_too_young"),
        ("01.01.1900", "date_too_old"),
    ],
)
def test_implausible_birth_dates(typed: str, problem: str) -> None:
    with pytest.raises(InputProblem) as caught:
        parse_birth_date(typed, TODAY)
    assert caught.value.key == problem


def test_full_name_is_cyrillic_and_has_two_words() -> None:
    assert parse_full_name("  иванова   мария-анна петровна ") == "Иванова Мария-Анна Петровна"
    for wrong in ("Иванова", "Ivanova Maria", "Иванова М.", "Иванова 123"):
        with pytest.raises(InputProblem):
            parse_full_name(wrong)


def test_codes_with_spaces_and_dashes() -> None:
    assert parse_code("12 34", 4) == "1234"
    assert parse_code("123-456", 6) == "123456"
    for wrong in ("123", "12345", "abcd", "١٢٣٤", "1" * 300):
        with pytest.raises(InputProblem) as caught:
            parse_code(wrong, 4)
        assert caught.value.key == "code_format"


def test_a_code_of_the_wrong_length_says_how_long_it_is() -> None:
    with pytest.raises(InputProblem) as caught:
        check_code_length("123", 6)
    assert caught.value.params == {"length": 6}


def test_phone_numbers_in_any_form() -> None:
    assert parse_phone("8 (916) 123-45-67") == "+79161234567"
    with pytest.raises(InputProblem) as caught:
        parse_phone("+1 212 555 0100")
    assert caught.value.key == "phone_format"


def test_any_non_blank_text_is_a_password_attempt() -> None:
    assert parse_password("/Parol#2026") == "/Parol#2026"
    assert parse_password(" with spaces ") == " with spaces "
    with pytest.raises(InputProblem) as caught:
        parse_password(" \n ")
    assert caught.value.key == "password_empty"


def test_countdown_like_vk_id() -> None:
    assert format_clock(56) == "0:56"
    assert format_clock(75) == "1:15"
    assert format_clock(291) == "4:51"
    assert format_clock(3599) == "59:59"


def test_waits_of_hours_read_as_hours_and_minutes_rounded_up(i18n) -> None:
    with i18n.use_locale("ru"):
        assert format_clock(3600) == "1 ч"
        assert format_clock(80_000) == "22 ч 14 мин"  # 22:13:20, never shorter than said
    with i18n.use_locale("en"):
        assert format_clock(80_000) == "22 hr 14 min"


@pytest.fixture
def i18n():
    i18n = create_i18n("ru")
    token = I18n.set_current(i18n)
    yield i18n
    I18n.reset_current(token)


@pytest.mark.parametrize(
    ("attempts", "russian"),
    [(1, "Осталась 1 попытка."), (3, "Осталось 3 попытки."), (5, "Осталось 5 попыток.")],
)
def test_attempts_left_in_russian_plural_forms(i18n, attempts: int, russian: str) -> None:
    with i18n.use_locale("ru"):
        assert russian in explain_refusal(LinkingError("code_invalid", attempts_left=attempts))


def test_waiting_time_in_both_languages(i18n) -> None:
    error = LinkingError("resend_too_early", retry_after=21)
    with i18n.use_locale("ru"):
        assert "через 0:21" in explain_refusal(error)
    with i18n.use_locale("en"):
        assert "in 0:21" in explain_refusal(error)
    with i18n.use_locale("ru"):  # one time format for every wait: m:ss (hours in words)
        assert "через 15:00" in explain_refusal(LinkingError("password_locked", retry_after=900))
        day_cap = LinkingError("resend_too_early", retry_after=3605)
        assert "через 1 ч 1 мин" in explain_refusal(day_cap)


CODES = [
    "bad_request",
    "unauthorized",
    "not_found",
    "payload_too_large",
    "token_invalid",
    "token_expired",
    "token_used",
    "already_linked",
    "flow_expired",
    "wrong_state",
    "phone_invalid",
    "vpn_detected",
    "wrong_password",
    "password_locked",
    "resend_too_early",
    "code_invalid",
    "code_expired",
    "code_burnt",
    "no_active_code",
    "channel_unavailable",
    "unknown_account",
    "invalid_personal_data",
    "weak_password",
    "password_mismatch",
    "unavailable",
    "rate_limited",
    "confirmation_locked",
    "phone_mismatch",
]


def test_every_error_code_has_its_own_explanation(i18n) -> None:
    generic = explain_refusal(LinkingError("something_new"))
    with i18n.use_locale("ru"):
        texts = {code: explain_refusal(LinkingError(code)) for code in CODES}
    assert all(text != generic for text in texts.values())
    assert len(set(texts.values())) == len(CODES)
    assert all(any("а" <= ch <= "я" for ch in text) for text in texts.values())


def test_security_refusals_say_when_and_what_to_do(i18n) -> None:
    with i18n.use_locale("ru"):
        limited = explain_refusal(LinkingError("rate_limited", retry_after=2400))
        locked = explain_refusal(LinkingError("confirmation_locked", retry_after=80_000))
        mismatch = explain_refusal(
            LinkingError("phone_mismatch", payload={"mesh_phone_masked": "+7 *** ***-**-01"})
        )
    # One time format for every wait (docs/glossary.md): m:ss, hours and minutes in words.
    assert "через 40:00" in limited
    assert "через 22 ч 14 мин" in locked and "«🙋 Позвать специалиста»" in locked
    assert "+7 *** ***-**-01" in mismatch and "подтвердите новый номер" in mismatch
    with i18n.use_locale("en"):
        assert "in 40:00" in explain_refusal(LinkingError("rate_limited", retry_after=2400))


def test_personal_data_reasons_name_the_field(i18n) -> None:
    error = LinkingError("invalid_personal_data", payload={"fields": {"birth_date": "too_young"}})
    with i18n.use_locale("ru"):
        assert "меньше 18" in explain_refusal(error)
