"""Helpdesk rights, attacked: a member of the helpdesk group who is not an operator (not listed in
HELPDESK_OPERATOR_IDS, not an administrator) reaches no teacher and changes no ticket; an operator
removed or demoted loses her rights at the very next action."""

from __future__ import annotations

from aiogram import Bot
from aiogram.methods import GetChatMember

from bot.helpdesk.rights import OperatorRights
from tests.helpdesk.conftest import ManualTime
from tests.helpdesk.harness import HELPDESK, HelpdeskChat, only_topic, walk_to_phone_step
from tests.support.fake_telegram import FakeTelegram

TEACHER = 100
SIGNED = "<b>Ольга, служба поддержки:</b>\n"


async def open_ticket(hd, demo):  # type: ignore[no-untyped-def]
    teacher = hd.teacher(TEACHER)
    await walk_to_phone_step(teacher, await demo.token("vkid_no_profile"))
    await teacher.send("позовите человека")
    assert "Обращение #1" in teacher.last_text
    return teacher


async def test_a_member_who_is_not_an_operator_reaches_no_teacher(hd, demo) -> None:
    teacher = await open_ticket(hd, demo)
    thread = only_topic(hd)
    member = hd.operator(9, "Посторонний", admin=False)  # in the group, not an operator
    seen_by_teacher = len(teacher.bot_messages())
    in_group = len(hd.chat.messages())

    for text in (
        "Пришлите мне ваш пароль",
        "/take",
        "/note заметка чужого",
        "/reply Пришлите код",
        "/close",
        "/queue",
    ):
        await member.say(text, thread_id=thread)

    assert len(teacher.bot_messages()) == seen_by_teacher  # nothing reached her
    ticket = await hd.relay.tickets.get(1)
    assert (ticket.status, ticket.assignee_id) == ("open", None)
    assert await hd.relay.tickets.notes(1) == []
    group = hd.chat.messages()
    assert len(group) - in_group == 6  # only the member's own six messages, no answer
    assert "Посторонний" not in group[0].text  # the card is unchanged


async def test_a_listed_operator_acts_without_being_an_administrator(
    tmp_path, backend, bot_clock, demo
) -> None:
    from tests.helpdesk.harness import helpdesk_app

    async with helpdesk_app(
        tmp_path, backend.url, clock=bot_clock, helpdesk_operator_ids=[8]
    ) as hd:
        teacher = await open_ticket(hd, demo)
        thread = only_topic(hd)
        listed = hd.operator(8, "Ольга", admin=False)
        await listed.say("Здравствуйте!", thread_id=thread)
        assert teacher.last_text == SIGNED + "Здравствуйте!"
        assert not hd.telegram.calls_of(GetChatMember)  # the list is enough


async def test_an_operator_demoted_or_removed_loses_her_rights_at_once(hd, demo) -> None:
    teacher = await open_ticket(hd, demo)
    thread = only_topic(hd)
    olga = hd.operator(7, "Ольга")
    await olga.say("Первый ответ", thread_id=thread)
    await olga.say("Второй ответ", thread_id=thread)
    assert teacher.last_text == SIGNED + "Второй ответ"
    assert len(hd.telegram.calls_of(GetChatMember)) == 1  # the answer is cached

    await hd.change_status(7, "member")  # demoted: a chat_member update, no time passes
    await olga.say("Третий ответ", thread_id=thread)
    await olga.say("/close", thread_id=thread)
    assert teacher.last_text == SIGNED + "Второй ответ"
    assert (await hd.relay.tickets.get(1)).status == "open"

    anna = hd.operator(6, "Анна")
    await anna.say("Ответ Анны", thread_id=thread)
    assert teacher.last_text == "<b>Анна, служба поддержки:</b>\nОтвет Анны"
    await hd.change_status(6, "left")  # removed from the group
    await anna.say("/take", thread_id=thread)
    assert (await hd.relay.tickets.get(1)).assignee_id is None


def test_the_dispatcher_asks_telegram_for_membership_changes(hd) -> None:
    # Telegram sends chat_member updates only when asked for them in allowed_updates.
    assert "chat_member" in hd.dp.resolve_used_update_types()


async def test_without_an_update_a_changed_status_is_trusted_one_minute_at_most() -> None:
    telegram = FakeTelegram()
    bot = Bot("42:TEST", session=telegram)
    chat = HelpdeskChat(telegram, HELPDESK, forum=True)
    time = ManualTime()
    rights = OperatorRights(HELPDESK, monotonic=time)
    olga = await bot.get_me()  # any user object will do
    olga = olga.model_copy(update={"id": 7, "is_bot": False})
    chat.members.add(7)
    chat.admins.add(7)

    assert await rights.allows(bot, olga)
    chat.admins.discard(7)  # demoted while this replica did not get the update
    time.now += 59
    assert await rights.allows(bot, olga)
    time.now += 2
    assert not await rights.allows(bot, olga)
    assert len(telegram.calls_of(GetChatMember)) == 2
