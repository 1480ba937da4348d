"""/queue in the helpdesk chat: open tickets, the longest waiting first, for members only."""

from __future__ import annotations

from aiogram.methods import SendMessage

from tests.helpdesk.harness import HELPDESK, walk_to_phone_step


async def two_tickets(hd, demo, bot_clock):  # type: ignore[no-untyped-def]
    """Teacher 100 asks for help on the phone step; 9 minutes later teacher 200 does too."""
    first = hd.teacher(100, "Мария")
    await walk_to_phone_step(first, await demo.token("vkid_no_profile"))
    await first.send("позовите человека")
    bot_clock.advance(9 * 60)
    second = hd.teacher(200, "Анна")
    await walk_to_phone_step(second, await demo.token("profile_exists"))
    await second.click("Не получается")
    await second.click("Позвать специалиста")
    bot_clock.advance(6 * 60)


async def test_queue_lists_open_tickets_longest_waiting_first(hd, demo, bot_clock) -> None:
    await two_tickets(hd, demo, bot_clock)
    olga = hd.operator(7, "Ольга")
    topics = [thread for chat, thread in hd.telegram.topics if chat == HELPDESK]
    await olga.say("Здравствуйте!", thread_id=topics[1])  # ticket #2 gets an answer
    await olga.say("/take", thread_id=topics[1])

    await olga.say("/queue")

    queue = hd.telegram.calls_of(SendMessage)[-1]
    assert queue.chat_id == HELPDESK and queue.message_thread_id is None  # the general topic
    lines = queue.text.splitlines()
    assert lines[0] == "📋 <b>Открытых обращений: 2</b>, сначала те, что ждут дольше"
    assert lines[1].startswith('<a href="https://t.me/c/9000/')  # a link to the topic
    number, _teacher, *rest = lines[1].split(" · ")  # the teacher's name from the e-journal
    assert number.endswith(">#1</a>")
    assert rest == [
        "ждёт 15 мин",
        "телефон",
        "написала своими словами",
        "никто не взял",
        "ещё без ответа",
    ]
    number, _teacher, *rest = lines[2].split(" · ")
    assert number.endswith(">#2</a>")
    assert rest == ["ждёт 6 мин", "телефон", "с экрана помощи", "Ольга"]
    assert "без ответа" not in lines[2]
    assert "Onboarding" not in queue.text and "Link:" not in queue.text  # human labels only


async def test_queue_says_when_there_is_nothing_open(hd) -> None:
    olga = hd.operator(7, "Ольга")
    await olga.say("/queue")
    assert hd.telegram.calls_of(SendMessage)[-1].text == "📋 Открытых обращений нет."


async def test_queue_is_for_helpdesk_members_only(hd, demo, bot_clock) -> None:
    await two_tickets(hd, demo, bot_clock)
    sent = len(hd.telegram.calls_of(SendMessage))
    stranger = hd.operator(9, "Чужой", member=False)
    await stranger.say("/queue")
    assert len(hd.telegram.calls_of(SendMessage)) == sent  # nothing said to a stranger

    teacher = hd.teacher(300, "Вера")  # and in a private chat it is not a command at all
    await teacher.send("/queue")
    assert all("Открытых обращений" not in (m.text or "") for m in teacher.bot_messages())
