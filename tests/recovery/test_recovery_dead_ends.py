"""Recovery without a dead end: trusted friends give their codes in the chat, and a VK ID made by
registration (its phone and nothing else) is recovered by its SMS — both walked from the password
step of a linking through the real bot and backend to a linked profile."""

from __future__ import annotations

from tests.bot.helpers import Demo, open_from_journal
from tests.recovery.steps import confirm_account, friend_codes, set_new_password
from tests.support.bot_app import BotApp
from tests.support.fake_telegram import Person

FRIENDS = "forgot_password_friends"
REGISTERED = "registered_no_password"


async def _link_profile_b(teacher: Person) -> None:
    """Scenario B from «Ваш профиль для связки» to the end."""
    assert "Ваш профиль для связки" in teacher.last_text
    await teacher.click("Продолжить")
    await teacher.click("Всё верно, продолжить")
    await teacher.click("Привязать")
    assert "успешно привязан" in teacher.last_text


async def test_trusted_friends_give_their_codes_and_she_links(app: BotApp, demo: Demo) -> None:
    teacher = app.teacher(1101)
    await open_from_journal(teacher, demo, FRIENDS, "Да")
    await teacher.send(demo[FRIENDS].phone)
    await teacher.click("Забыли или не установили пароль?")
    await confirm_account(teacher, demo, FRIENDS)
    await teacher.click("С помощью друзей, которым доверяете")

    friends = [f.name for f in await demo.linking.dev_friends(demo[FRIENDS].phone)]
    assert len(friends) == 3
    assert "VK ID отправил код каждому из ваших друзей" in teacher.last_text
    assert all(f"⏳ {name}" in teacher.last_text for name in friends)
    assert f"Напишите код от друга: <b>{friends[0]}</b>" in teacher.last_text
    assert "Отправить коды повторно 1:15" in teacher.buttons()
    assert "🙋 Позвать специалиста" in teacher.buttons()  # the helpdesk stays one tap away

    codes = await friend_codes(demo, FRIENDS)
    await teacher.send("000000" if codes[0] != "000000" else "111111")
    assert "Код неверный. Осталось 4 попытки." in teacher.last_text
    await teacher.send(codes[0])
    assert f"✅ {friends[0]}" in teacher.last_text
    assert f"Напишите код от друга: <b>{friends[1]}</b>" in teacher.last_text
    await teacher.send(codes[1])
    await teacher.send(codes[2])
    assert "Придумайте новый пароль" in teacher.last_text

    await set_new_password(teacher)
    assert "Пароль изменён, и VK ID уже впустил вас" in teacher.last_text  # no third password
    assert "Подтвердите вход" in teacher.last_text
    await teacher.send(await demo.last_code(FRIENDS))
    await _link_profile_b(teacher)


async def test_a_vk_id_made_by_registration_recovers_by_sms_and_links(
    app: BotApp, demo: Demo
) -> None:
    await demo.fresh(REGISTERED)
    teacher = app.teacher(1102)
    await open_from_journal(teacher, demo, REGISTERED, "Да")
    await teacher.send(demo[REGISTERED].phone)
    assert "Пароль от VK ID" in teacher.last_text  # VK ID asks for a password she never set
    await teacher.click("Забыли или не установили пароль?")
    await confirm_account(teacher, demo, REGISTERED)
    # No method window with nothing in it: the SMS code was the confirmation.
    assert "Придумайте новый пароль" in teacher.last_text

    await set_new_password(teacher)
    assert "Подтвердите вход" in teacher.last_text  # signed in by the recovery
    await teacher.send(await demo.last_code(REGISTERED))
    await _link_profile_b(teacher)
