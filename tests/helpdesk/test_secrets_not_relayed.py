"""Nothing secret reaches the helpdesk group: a teacher in an open ticket types her password, a
code, a card number or a token, and the group sees a masked copy with a note — never her message
copied raw. Every Bot API call into the group is searched for the secret, not only the text shown.
"""

from __future__ import annotations

import pytest
from aiogram.methods import CopyMessage

from services.helpdesk import MessageDirection
from tests.helpdesk.harness import HELPDESK, only_topic, walk_to_phone_step

TEACHER = 100
HER = "👩\u200d🏫 <b>Кузнецов А.</b>\n"
NOTE = "<i>🔒 Скрыто то, что похоже на пароль, код или номер карты.</i>"


async def open_ticket(hd, demo):  # type: ignore[no-untyped-def]
    teacher = hd.teacher(TEACHER)
    await walk_to_phone_step(teacher, await demo.token("vkid_no_profile"))
    await teacher.send("позовите человека")
    assert "Обращение #1" in teacher.last_text
    assert "Не присылайте пароли и коды" in teacher.last_text  # she is told before she writes
    return teacher


def calls_into_the_group(hd) -> str:  # type: ignore[no-untyped-def]
    """Every parameter of every call the bot made into the helpdesk chat, as one string."""
    return "\n".join(
        repr(call)
        for call in hd.telegram.calls
        if str(getattr(call, "chat_id", "")) == str(HELPDESK)
    )


@pytest.mark.parametrize(
    ("typed", "secret", "shown"),
    [
        ("мой пароль Qwerty123!", "Qwerty123", "мой пароль •••!"),
        ("пароль: sunflower", "sunflower", "пароль: •••"),
        ("Sunflower2024", "Sunflower2024", "•••"),
        ("Sunflowers", "Sunflowers", "•••"),  # a letters-only password pasted alone
        ("код 4821 не подходит", "4821", "код ••• не подходит"),
        ("пришёл код 48213", "48213", "пришёл код •••"),
        ("482130", "482130", "•••"),
        ("код 48 21 30", "48 21 30", "код •••"),
        ("карта 4276 1234 5678 9012", "5678", "карта •••"),
        ("4276-1234-5678-9012", "5678", "•••"),
        (
            "вот токен ghp_aBcDeFgHiJkLmNoPqRsTuVwXyZ012345",
            "aBcDeFgHiJkLmNoP",
            "вот токен •••",
        ),
        ("ключ AbCdEfGhIjKlMnOpQrStUv", "AbCdEfGhIjKlMnOpQrStUv", "ключ •••"),
        ("ссылка https://t.me/sferum_bot?start=Zx81kQ", "Zx81kQ", "https://t.me/sferum_bot?•••"),
    ],
)
async def test_a_secret_typed_to_the_specialist_reaches_the_group_masked(
    hd, demo, typed: str, secret: str, shown: str
) -> None:
    await open_ticket(hd, demo)
    thread = only_topic(hd)

    await hd.teacher(TEACHER).send(typed)

    relayed = hd.chat.messages(thread)[-1].text
    assert relayed.startswith(HER) and relayed.endswith("\n" + NOTE)
    assert shown in relayed
    assert secret not in calls_into_the_group(hd)
    assert not hd.telegram.calls_of(CopyMessage)  # her text is never copied as it is
    logged = await hd.relay.tickets.messages(1, MessageDirection.TEACHER)
    assert secret not in (logged[-1].text or "")


async def test_an_ordinary_message_is_shown_as_hers_without_a_note(hd, demo) -> None:
    await open_ticket(hd, demo)
    thread = only_topic(hd)

    await hd.teacher(TEACHER).send("Не приходит СМС, номер 8 903 111-22-02")

    assert hd.chat.texts(thread)[-1] == (
        HER + "Не приходит СМС, номер +7 *** ***-**-02\n" + NOTE
    )  # a phone number is masked too, and said so
    await hd.teacher(TEACHER).send("Спасибо, жду")
    assert hd.chat.texts(thread)[-1] == HER + "Спасибо, жду"


async def test_a_screenshot_is_copied_but_its_caption_is_masked(hd, demo) -> None:
    teacher = await open_ticket(hd, demo)
    thread = only_topic(hd)

    await teacher.send_photo(caption="экран, пароль Qwerty123! не принимает")
    await teacher.send_document("ошибка.pdf")

    photo, document = hd.chat.messages(thread)[-2:]
    assert photo.photo and photo.caption == HER + "экран, пароль •••! не принимает\n" + NOTE
    assert document.document.file_name == "ошибка.pdf" and document.caption == HER.rstrip("\n")
    assert "Qwerty123" not in calls_into_the_group(hd)
    copies = hd.telegram.calls_of(CopyMessage)
    assert len(copies) == 2 and all(call.caption for call in copies)  # no caption left raw
