"""The transcript on the context card never holds a password or a code."""

from __future__ import annotations

from types import SimpleNamespace

from aiogram import Bot
from aiogram.types import Chat, Message, User

from bot.dialogs.states import Link
from bot.dialogs.steps import SECRET_STEPS
from bot.middlewares.transcript import TranscriptMiddleware, TranscriptRequestMiddleware
from services.helpdesk import TranscriptStore
from tests.helpdesk.harness import only_topic, walk_to_phone_step
from tests.support.fake_telegram import FakeTelegram


def message(text: str) -> Message:
    return Message(
        message_id=1,
        date=0,
        chat=Chat(id=100, type="private"),
        from_user=User(id=100, is_bot=False, first_name="Мария"),
        text=text,
    )


async def test_a_secret_step_hides_the_whole_message(transcript: TranscriptStore) -> None:
    middleware = TranscriptMiddleware(transcript, secret_steps=SECRET_STEPS)
    handled: list[str] = []

    async def handler(event, data):  # type: ignore[no-untyped-def]
        handled.append(event.text)

    await middleware(
        handler, message("Tr0ub4dor&3"), {"aiogd_context": SimpleNamespace(state=Link.password)}
    )
    await middleware(
        handler,
        message("мой номер 89161234567"),
        {"aiogd_context": SimpleNamespace(state=Link.phone)},
    )

    assert handled == ["Tr0ub4dor&3", "мой номер 89161234567"]  # the handler still gets it
    assert [e.text for e in await transcript.recent(100)] == ["[•••]", "мой номер +7 *** ***-**-67"]


async def test_the_bots_private_texts_are_recorded_without_markup(transcript) -> None:
    telegram = FakeTelegram()
    bot = Bot("42:TEST", session=telegram)
    bot.session.middleware(TranscriptRequestMiddleware(transcript))

    await bot.send_message(100, "<b>Код отправлен</b> на +7 916 123-45-67")
    await bot.send_message(-100500, "в группу — не в расшифровку")

    assert [(e.author, e.text) for e in await transcript.recent(100)] == [
        ("bot", "Код отправлен на +7 *** ***-**-67")
    ]
    assert await transcript.recent(-100500) == []


async def test_a_password_typed_in_the_dialog_never_reaches_the_card(hd, demo) -> None:
    teacher = hd.teacher(100)
    await walk_to_phone_step(teacher, await demo.token("vkid_no_profile"))
    await teacher.send("8 903 111-22-02")
    await teacher.click("Создать учебный профиль")
    await teacher.send("Sup3r-Secret!")  # the VK ID password step

    await teacher.send("позовите человека")

    card = hd.chat.messages(only_topic(hd))[0].text
    assert "👩‍🏫 [•••]" in card
    assert "Sup3r" not in card and "111-22-02" not in card
