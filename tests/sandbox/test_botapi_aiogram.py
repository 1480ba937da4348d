"""The emulator through aiogram's real Bot: aiogram's own parsing validates every answer."""

from __future__ import annotations

import pytest
from aiogram import Bot
from aiogram.exceptions import (
    TelegramBadRequest,
    TelegramConflictError,
    TelegramForbiddenError,
)
from aiogram.types import (
    BotCommand,
    BufferedInputFile,
    ForceReply,
    ForumTopic,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    KeyboardButton,
    LinkPreviewOptions,
    MessageId,
    ReplyKeyboardMarkup,
    ReplyKeyboardRemove,
    ReplyParameters,
)

from tests.sandbox.conftest import (
    HELPDESK_ID,
    OPERATOR_ID,
    OTHER_TEACHER_ID,
    TEACHER_ID,
    Emulator,
    next_event,
)

PNG_16x32 = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x10\x00\x00\x00\x20" + b"\x00" * 16


def yes_no() -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        inline_keyboard=[
            [
                InlineKeyboardButton(text="Да", callback_data="branch:yes"),
                InlineKeyboardButton(text="Нет", callback_data="branch:no"),
            ]
        ]
    )


async def test_get_me_is_a_bot_aiogram_accepts(bot: Bot):
    me = await bot.get_me()
    assert me.is_bot is True
    assert me.id == 4242424242
    assert me.username == "sferum_link_bot"


async def test_teacher_message_arrives_as_update_and_offset_confirms_it(
    bot: Bot, emulator: Emulator
):
    emulator.world.user_sends_text(TEACHER_ID, "/start token123")
    updates = await bot.get_updates(timeout=1)
    assert len(updates) == 1
    message = updates[0].message
    assert message.text == "/start token123"
    assert message.from_user.id == TEACHER_ID and not message.from_user.is_bot
    assert message.chat.type == "private" and message.chat.id == TEACHER_ID
    assert message.entities[0].type == "bot_command" and message.entities[0].length == 6

    assert [u.update_id for u in await bot.get_updates(timeout=0)] == [updates[0].update_id]
    assert await bot.get_updates(offset=updates[0].update_id + 1, timeout=0) == []


async def test_html_message_comes_back_as_text_with_entities(bot: Bot, emulator: Emulator):
    emulator.world.user_sends_text(TEACHER_ID, "hi")
    sent = await bot.send_message(
        TEACHER_ID,
        "<b>Шаг 1 из 8</b>\nНажмите «Продолжить»",
        parse_mode="HTML",
        link_preview_options=LinkPreviewOptions(is_disabled=True),
    )
    assert sent.text == "Шаг 1 из 8\nНажмите «Продолжить»"
    assert sent.entities[0].type == "bold" and sent.entities[0].length == 10
    assert sent.from_user.id == 4242424242
    assert sent.message_id == 2  # ids count per chat: the teacher's "hi" was 1


async def test_bad_html_is_refused_like_telegram(bot: Bot, emulator: Emulator):
    emulator.world.user_sends_text(TEACHER_ID, "hi")
    with pytest.raises(TelegramBadRequest, match="can't parse entities: Unsupported start tag"):
        await bot.send_message(TEACHER_ID, "строка<br>строка", parse_mode="HTML")
    with pytest.raises(TelegramBadRequest, match="message text is empty"):
        await bot.send_message(TEACHER_ID, "   ")
    with pytest.raises(TelegramBadRequest, match="message is too long"):
        await bot.send_message(TEACHER_ID, "я" * 4097)


async def test_bot_cannot_write_first_and_unknown_chats_are_not_found(bot: Bot):
    with pytest.raises(TelegramForbiddenError, match="bot can't initiate conversation"):
        await bot.send_message(OTHER_TEACHER_ID, "Здравствуйте")
    with pytest.raises(TelegramBadRequest, match="chat not found"):
        await bot.send_message(-100999, "x")


async def test_button_press_is_a_callback_query_with_chat_instance(bot: Bot, emulator: Emulator):
    world = emulator.world
    world.user_sends_text(TEACHER_ID, "/start")
    offset = (await bot.get_updates())[-1].update_id + 1
    question = await bot.send_message(TEACHER_ID, "Есть профиль?", reply_markup=yes_no())
    assert question.reply_markup.inline_keyboard[0][0].callback_data == "branch:yes"

    with world.events.subscribe() as events:
        world.user_presses_button(TEACHER_ID, TEACHER_ID, question.message_id, "branch:yes")
        updates = await bot.get_updates(offset=offset, timeout=1)
        query = updates[0].callback_query
        assert query.data == "branch:yes"
        assert query.chat_instance
        assert query.message.message_id == question.message_id
        assert query.from_user.id == TEACHER_ID

        assert await bot.answer_callback_query(query.id, text="Принято", show_alert=True)
        answer = await next_event(events, lambda e: e["type"] == "callback_answer")
    assert answer["text"] == "Принято" and answer["show_alert"] is True
    assert answer["user_id"] == TEACHER_ID

    with pytest.raises(TelegramBadRequest, match="query is too old"):
        await bot.answer_callback_query(query.id)


async def test_only_real_buttons_can_be_pressed(bot: Bot, emulator: Emulator):
    emulator.world.user_sends_text(TEACHER_ID, "hi")
    sent = await bot.send_message(TEACHER_ID, "?", reply_markup=yes_no())
    with pytest.raises(Exception, match="no button with this callback data"):
        emulator.world.user_presses_button(TEACHER_ID, TEACHER_ID, sent.message_id, "forged")


async def test_callback_data_over_64_bytes_is_refused(bot: Bot, emulator: Emulator):
    emulator.world.user_sends_text(TEACHER_ID, "hi")
    markup = InlineKeyboardMarkup(
        inline_keyboard=[[InlineKeyboardButton(text="x", callback_data="я" * 33)]]
    )
    with pytest.raises(TelegramBadRequest, match="BUTTON_DATA_INVALID"):
        await bot.send_message(TEACHER_ID, "?", reply_markup=markup)


async def test_edit_semantics_match_telegram(bot: Bot, emulator: Emulator):
    emulator.world.user_sends_text(TEACHER_ID, "hi")
    sent = await bot.send_message(TEACHER_ID, "Шаг 1", reply_markup=yes_no())

    with pytest.raises(TelegramBadRequest, match="message is not modified"):
        await bot.edit_message_text(
            "Шаг 1", chat_id=TEACHER_ID, message_id=sent.message_id, reply_markup=yes_no()
        )

    edited = await bot.edit_message_text("Шаг 1", chat_id=TEACHER_ID, message_id=sent.message_id)
    assert edited.reply_markup is None  # no reply_markup in an edit removes the keyboard
    assert edited.edit_date is not None

    with_keyboard = await bot.edit_message_reply_markup(
        chat_id=TEACHER_ID, message_id=sent.message_id, reply_markup=yes_no()
    )
    assert with_keyboard.text == "Шаг 1"
    assert with_keyboard.reply_markup.inline_keyboard[0][1].text == "Нет"

    with pytest.raises(TelegramBadRequest, match="message to edit not found"):
        await bot.edit_message_text("x", chat_id=TEACHER_ID, message_id=999)
    with pytest.raises(TelegramBadRequest, match="message can't be edited"):
        await bot.edit_message_text("x", chat_id=TEACHER_ID, message_id=1)  # the teacher's


async def test_delete_removes_and_unknown_is_refused(bot: Bot, emulator: Emulator):
    world = emulator.world
    password = world.user_sends_text(TEACHER_ID, "Secret#2026")
    with world.events.subscribe() as events:
        assert await bot.delete_message(TEACHER_ID, password["message_id"])
        deleted = await next_event(events, lambda e: e["type"] == "delete")
    assert deleted["message_id"] == password["message_id"]
    assert password["message_id"] not in world.chats[TEACHER_ID].messages
    with pytest.raises(TelegramBadRequest, match="message to delete not found"):
        await bot.delete_message(TEACHER_ID, password["message_id"])


async def test_reply_keyboard_contact_share_and_removal(bot: Bot, emulator: Emulator):
    world = emulator.world
    world.user_sends_text(TEACHER_ID, "hi")
    offset = (await bot.get_updates())[-1].update_id + 1
    keyboard = ReplyKeyboardMarkup(
        keyboard=[[KeyboardButton(text="Отправить номер", request_contact=True)]],
        resize_keyboard=True,
        one_time_keyboard=True,
    )
    sent = await bot.send_message(TEACHER_ID, "Ваш номер?", reply_markup=keyboard)
    assert sent.reply_markup is None  # reply keyboards are not part of the Message
    assert world.chats[TEACHER_ID].reply_keyboard["keyboard"][0][0]["request_contact"] is True

    world.user_shares_contact(TEACHER_ID)
    contact = (await bot.get_updates(offset=offset))[0].message.contact
    assert contact.phone_number == "79161234567"  # as Telegram clients send it: no "+"
    assert contact.user_id == TEACHER_ID
    assert world.chats[TEACHER_ID].reply_keyboard is None  # one_time_keyboard hid it

    await bot.send_message(TEACHER_ID, "Снова?", reply_markup=keyboard)
    await bot.send_message(TEACHER_ID, "Спасибо", reply_markup=ReplyKeyboardRemove())
    assert world.chats[TEACHER_ID].reply_keyboard is None


async def test_reply_parameters_and_force_reply(bot: Bot, emulator: Emulator):
    question = emulator.world.user_sends_text(TEACHER_ID, "Не приходит смс")
    answer = await bot.send_message(
        TEACHER_ID,
        "Проверьте номер",
        reply_parameters=ReplyParameters(message_id=question["message_id"]),
        reply_markup=ForceReply(),
    )
    assert answer.reply_to_message.text == "Не приходит смс"
    with pytest.raises(TelegramBadRequest, match="message to be replied not found"):
        await bot.send_message(TEACHER_ID, "x", reply_parameters=ReplyParameters(message_id=404))


async def test_forum_topics_threads_and_operator_messages(bot: Bot, emulator: Emulator):
    world = emulator.world
    topic = await bot.create_forum_topic(HELPDESK_ID, "№1 · Иванова · код")
    assert isinstance(topic, ForumTopic) and topic.icon_color == 0x6FB9F0
    card = await bot.send_message(
        HELPDESK_ID, "<b>Карточка</b>", message_thread_id=topic.message_thread_id
    )
    assert card.is_topic_message and card.message_thread_id == topic.message_thread_id
    assert card.chat.is_forum is True

    world.user_sends_text(
        OPERATOR_ID, "/take", chat_id=HELPDESK_ID, thread_id=topic.message_thread_id
    )
    update = (await bot.get_updates())[0]
    assert update.message.message_thread_id == topic.message_thread_id
    assert update.message.is_topic_message is True
    assert update.message.reply_to_message.forum_topic_created.name == "№1 · Иванова · код"
    assert update.message.chat.type == "supergroup"

    assert await bot.edit_forum_topic(
        HELPDESK_ID, topic.message_thread_id, name="№1 · Иванова · закрыт"
    )
    assert await bot.close_forum_topic(HELPDESK_ID, topic.message_thread_id)
    assert world.chats[HELPDESK_ID].topics[topic.message_thread_id].is_closed
    with pytest.raises(TelegramBadRequest, match="TOPIC_NOT_MODIFIED"):
        await bot.close_forum_topic(HELPDESK_ID, topic.message_thread_id)
    assert await bot.reopen_forum_topic(HELPDESK_ID, topic.message_thread_id)
    with pytest.raises(TelegramBadRequest, match="message thread not found"):
        await bot.send_message(HELPDESK_ID, "x", message_thread_id=9999)
    world.user_sends_text(TEACHER_ID, "hi")
    with pytest.raises(TelegramBadRequest, match="the chat is not a forum"):
        await bot.create_forum_topic(TEACHER_ID, "x")


async def test_copy_and_forward_between_teacher_and_helpdesk(bot: Bot, emulator: Emulator):
    world = emulator.world
    topic = await bot.create_forum_topic(HELPDESK_ID, "№2")
    question = world.user_sends_text(TEACHER_ID, "Не приходит код")
    copied = await bot.copy_message(
        HELPDESK_ID, TEACHER_ID, question["message_id"], message_thread_id=topic.message_thread_id
    )
    assert isinstance(copied, MessageId)
    stored = world.chats[HELPDESK_ID].messages[copied.message_id]
    assert stored["text"] == "Не приходит код" and "forward_origin" not in stored
    assert stored["message_thread_id"] == topic.message_thread_id

    forwarded = await bot.forward_message(HELPDESK_ID, TEACHER_ID, question["message_id"])
    assert forwarded.forward_origin.type == "user"
    assert forwarded.forward_origin.sender_user.id == TEACHER_ID

    with pytest.raises(TelegramBadRequest, match="message can't be copied"):
        await bot.copy_message(TEACHER_ID, HELPDESK_ID, topic.message_thread_id)
    with pytest.raises(TelegramBadRequest, match="message to copy not found"):
        await bot.copy_message(HELPDESK_ID, TEACHER_ID, 404)


async def test_photos_and_documents_round_trip(bot: Bot, emulator: Emulator):
    world = emulator.world
    world.user_sends_text(TEACHER_ID, "hi")
    photo = await bot.send_photo(
        TEACHER_ID,
        BufferedInputFile(PNG_16x32, "screen.png"),
        caption="<i>Экран</i>",
        parse_mode="HTML",
    )
    assert (photo.photo[-1].width, photo.photo[-1].height) == (16, 32)
    assert photo.caption == "Экран" and photo.caption_entities[0].type == "italic"

    again = await bot.send_photo(TEACHER_ID, photo.photo[-1].file_id)
    assert again.photo[-1].file_unique_id == photo.photo[-1].file_unique_id
    document = await bot.send_document(TEACHER_ID, BufferedInputFile(b"%PDF-1.4", "guide.pdf"))
    assert document.document.file_name == "guide.pdf"

    file = await bot.get_file(document.document.file_id)
    downloaded = await bot.download_file(file.file_path)
    assert downloaded.read() == b"%PDF-1.4"

    teacher_photo = world.user_sends_file(
        TEACHER_ID, kind="photo", data=PNG_16x32, filename="err.png", mime_type="image/png"
    )
    file = await bot.get_file(teacher_photo["photo"][-1]["file_id"])
    assert (await bot.download_file(file.file_path)).read() == PNG_16x32

    with pytest.raises(TelegramBadRequest, match="wrong file identifier"):
        await bot.send_photo(TEACHER_ID, "no-such-file-id")
    with pytest.raises(TelegramBadRequest, match="there is no text in the message to edit"):
        await bot.edit_message_text("x", chat_id=TEACHER_ID, message_id=photo.message_id)
    recaptioned = await bot.edit_message_caption(
        chat_id=TEACHER_ID, message_id=photo.message_id, caption="Новый"
    )
    assert recaptioned.caption == "Новый"


async def test_chat_action_commands_and_members(bot: Bot, emulator: Emulator):
    world = emulator.world
    world.user_sends_text(TEACHER_ID, "hi")
    with world.events.subscribe() as events:
        assert await bot.send_chat_action(TEACHER_ID, "typing")
        action = await next_event(events, lambda e: e["type"] == "chat_action")
    assert action == {
        "type": "chat_action",
        "chat_id": TEACHER_ID,
        "action": "typing",
        "message_thread_id": None,
    }

    assert await bot.set_my_commands(
        [BotCommand(command="start", description="Начать")], language_code="ru"
    )
    assert [c.command for c in await bot.get_my_commands(language_code="ru")] == ["start"]
    assert await bot.get_my_commands() == []
    with pytest.raises(TelegramBadRequest, match="BOT_COMMAND_INVALID"):
        await bot.set_my_commands([BotCommand(command="Старт", description="x")])

    operator = await bot.get_chat_member(HELPDESK_ID, OPERATOR_ID)
    assert operator.status == "administrator"
    assert (await bot.get_chat_member(HELPDESK_ID, TEACHER_ID)).status == "left"
    admins = await bot.get_chat_administrators(HELPDESK_ID)
    assert {a.user.id for a in admins} == {OPERATOR_ID, 4242424242}
    chat = await bot.get_chat(HELPDESK_ID)
    assert chat.is_forum is True and chat.title == "Поддержка"


async def test_webhook_blocks_get_updates_until_deleted(bot: Bot, emulator: Emulator):
    assert await bot.set_webhook("https://example.org/hook", secret_token="s3cret")
    assert (await bot.get_webhook_info()).url == "https://example.org/hook"
    with pytest.raises(TelegramConflictError, match="webhook is active"):
        await bot.get_updates()
    emulator.world.user_sends_text(TEACHER_ID, "hi")
    assert await bot.delete_webhook(drop_pending_updates=True)
    assert await bot.get_updates() == []
