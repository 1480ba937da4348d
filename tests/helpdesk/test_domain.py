"""Working hours, masking of secrets, and the transcript store."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from services.helpdesk import TranscriptStore, WorkingHours, mask_message, mask_secrets

HOURS = WorkingHours.parse("09:00-18:00", "Europe/Moscow")


def msk(day: int, hour: int, minute: int = 0) -> datetime:
    """March 2025 in Moscow (UTC+3): the 12th is a Wednesday, the 14th a Friday."""
    return datetime(2025, 3, day, hour - 3, minute, tzinfo=UTC)


def test_working_hours_inside_and_outside() -> None:
    assert HOURS.is_open(msk(12, 9))
    assert HOURS.is_open(msk(12, 17, 59))
    assert not HOURS.is_open(msk(12, 18))
    assert not HOURS.is_open(msk(12, 8, 59))
    assert not HOURS.is_open(msk(15, 12))  # Saturday


@pytest.mark.parametrize(
    ("now", "opens"),
    [
        (msk(12, 7), "2025-03-12 09:00"),  # early morning: today
        (msk(12, 19), "2025-03-13 09:00"),  # evening: tomorrow
        (msk(14, 18, 30), "2025-03-17 09:00"),  # Friday evening: Monday
        (msk(16, 10), "2025-03-17 09:00"),  # Sunday: Monday
    ],
)
def test_next_opening(now: datetime, opens: str) -> None:
    assert HOURS.next_opening(now).strftime("%Y-%m-%d %H:%M") == opens


def test_working_hours_must_be_well_formed() -> None:
    with pytest.raises(ValueError):
        WorkingHours.parse("9 to 6", "Europe/Moscow")
    with pytest.raises(ValueError):
        WorkingHours.parse("18:00-09:00", "Europe/Moscow")


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        ("мой номер +7 916 123-45-67", "мой номер +7 *** ***-**-67"),
        ("89161234567", "+7 *** ***-**-67"),
        ("код 1234", "код •••"),
        ("код 12 34 56 не подходит", "код ••• не подходит"),
        ("пароль Qwerty123!", "пароль •••!"),
        ("позовите человека, пожалуйста", "позовите человека, пожалуйста"),
        ("по-русски, кто-нибудь?", "по-русски, кто-нибудь?"),
    ],
)
def test_secrets_are_masked(text: str, masked: str) -> None:
    assert mask_secrets(text) == masked


def test_a_message_typed_in_a_secret_step_is_hidden_entirely() -> None:
    assert mask_message("МойПароль", secret_step=True) == "[•••]"
    assert mask_message("МойПароль", secret_step=False) == "МойПароль"


async def test_transcript_keeps_the_last_lines_without_repeats(session_factory, wall) -> None:
    store = TranscriptStore(session_factory, clock=wall, keep=3)
    for text in ["один", "два", "два", "три", "четыре"]:
        await store.record(100, "teacher", text)
    await store.record(200, "bot", "чужое")

    assert [e.text for e in await store.recent(100)] == ["два", "три", "четыре"]
    assert [e.text for e in await store.recent(100, limit=2)] == ["три", "четыре"]
    await store.close()
