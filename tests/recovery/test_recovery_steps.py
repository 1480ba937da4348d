"""Scenario C step by step: every refusal, the countdowns, the answers that turn the dialog back."""

from __future__ import annotations

import logging
from datetime import timedelta

from aiogram.methods import DeleteMessage
from sqlalchemy import text

from services.clock import FakeClock
from tests.bot.helpers import Demo
from tests.recovery.steps import (
    NEW_PASSWORD,
    app_code,
    confirm_account,
    email_code,
    emails_received,
    missing_rules,
    open_recovery_from_password,
    open_recovery_from_password_b,
    reach_new_password,
    tr,
)
from tests.support.bot_app import BotApp

APP = "forgot_password_app"
DAY = timedelta(days=1)
EMAIL = "forgot_password_email"


async def test_wrong_sms_code_shows_attempts_left_and_the_right_one_still_works(
    app: BotApp, demo: Demo
) -> None:
    teacher = app.teacher(400)
    await open_recovery_from_password(teacher, demo, APP)
    right = await demo.last_code(APP)
    wrong = "000000" if right != "000000" else "111111"

    await teacher.send(wrong)
    assert "Код неверный. Осталось 4 попытки." in teacher.last_text
    assert "SMS с кодом отправлено на телефон" in teacher.last_text  # still the same step
    await teacher.send("12")
    assert "6" in teacher.last_text and "Введите код" in teacher.last_text
    await teacher.send(right)
    assert "Это ваш аккаунт?" in teacher.last_text


async def test_sms_resend_is_refused_before_the_cooldown_then_sent(
    app: BotApp, demo: Demo, clock: FakeClock
) -> None:
    teacher = app.teacher(401)
    await open_recovery_from_password(teacher, demo, APP)
    assert await demo.codes_received(APP) == 1
    clock.advance(30)

    await teacher.click("Отправить SMS через")
    assert "Новый код можно запросить через 0:45" in teacher.last_text
    assert await demo.codes_received(APP) == 1
    assert "Отправить SMS через 0:45" in teacher.buttons()

    clock.advance(45)
    await teacher.send("1")  # any answer re-renders the window with the timer run out
    await teacher.click("Отправить SMS повторно")
    assert await demo.codes_received(APP) == 2
    assert "Новое SMS отправлено" in teacher.last_text
    assert "Отправить SMS через 1:15" in teacher.buttons()
    await confirm_account(teacher, demo, APP)
    assert "Как вы хотите подтвердить" in teacher.last_text
    record = await app.sessions.get(401)
    assert record is not None and record.codes_requested == 2  # the first SMS and the resend


async def test_email_code_can_be_resent_after_the_cooldown(
    app: BotApp, demo: Demo, clock: FakeClock
) -> None:
    teacher = app.teacher(402)
    await open_recovery_from_password_b(teacher, demo, EMAIL)
    await confirm_account(teacher, demo, EMAIL)
    await teacher.click("С помощью электронной почты")
    assert await emails_received(demo, EMAIL) == 1
    assert "Отправить код повторно 4:51" in teacher.buttons()

    clock.advance(100)
    await teacher.click("Отправить код повторно")
    assert "Новый код можно запросить через" in teacher.last_text
    assert await emails_received(demo, EMAIL) == 1

    clock.advance(191)
    await teacher.send("1")
    assert "Отправить код повторно" in teacher.buttons()
    await teacher.click("Отправить код повторно")
    assert await emails_received(demo, EMAIL) == 2
    assert "Новое письмо с кодом отправлено" in teacher.last_text
    assert "Отправить код повторно 4:51" in teacher.buttons()
    await teacher.send(await email_code(demo, EMAIL))
    assert "Придумайте новый пароль" in teacher.last_text


async def test_weak_password_lists_every_unmet_rule(app: BotApp, demo: Demo) -> None:
    teacher = app.teacher(403)
    await reach_new_password(teacher, demo)

    await teacher.send("abc")
    assert "Придумайте новый пароль" in teacher.last_text
    missing = missing_rules(app, teacher.last_text)
    for rule in ("at least 8 characters", "a capital letter", "a digit"):
        assert tr(app, rule) in missing
    assert tr(app, "a special character such as ! # $ % *") in missing
    assert tr(app, "a small letter") not in missing  # «abc» has small letters

    await teacher.send("ABCDEFGH1!")
    missing = missing_rules(app, teacher.last_text)
    assert tr(app, "a small letter") in missing
    assert tr(app, "a digit") not in missing
    await teacher.send(NEW_PASSWORD)
    assert "Повторите новый пароль" in teacher.last_text


async def test_mismatch_goes_back_to_the_new_password(app: BotApp, demo: Demo) -> None:
    teacher = app.teacher(404)
    await reach_new_password(teacher, demo)
    await teacher.send(NEW_PASSWORD)
    await teacher.send(NEW_PASSWORD + "x")

    assert tr(app, "The passwords do not match. Please enter the new password again.") in (
        teacher.last_text
    )
    assert "Придумайте новый пароль" in teacher.last_text
    await teacher.send("Другой#Пароль1")
    await teacher.send("Другой#Пароль1")
    assert "Пароль изменён, и VK ID уже впустил вас" in teacher.last_text


async def test_not_my_account_asks_for_another_number(app: BotApp, demo: Demo) -> None:
    teacher = app.teacher(405)
    await open_recovery_from_password(teacher, demo, APP)
    await teacher.send(await demo.last_code(APP))
    await teacher.click("Нет, другой аккаунт")

    assert "этот номер относится к другому аккаунту VK ID" in teacher.last_text
    assert "Восстановление пароля от VK ID" in teacher.last_text
    await teacher.send(demo[EMAIL].phone)
    assert "SMS с кодом отправлено на телефон +7 *** ***-**-06" in teacher.last_text


async def test_friends_are_asked_for_codes_and_a_specialist_offered(
    app: BotApp, demo: Demo
) -> None:
    teacher = app.teacher(406)
    await open_recovery_from_password(teacher, demo, APP)
    await confirm_account(teacher, demo, APP)
    await teacher.click("С помощью друзей, которым доверяете")
    assert "не через ВКонтакте" in teacher.last_text  # she asks them for their codes
    assert "Напишите код от друга" in teacher.last_text
    assert "🙋 Позвать специалиста" in teacher.buttons()

    await teacher.click("Выбрать другой способ")
    assert "Как вы хотите подтвердить" in teacher.last_text
    await teacher.click("С помощью друзей, которым доверяете")
    await teacher.click("Позвать специалиста")
    assert tr(app, "↩️ Back to the bot") in teacher.buttons()


async def test_only_friends_means_no_other_way_button(app: BotApp, demo: Demo) -> None:
    case = "forgot_password_friends"
    teacher = app.teacher(407)
    await teacher.send("забыла пароль")
    await teacher.send(demo[case].phone)
    await confirm_account(teacher, demo, case)
    assert teacher.buttons()[0] == "С помощью друзей, которым доверяете"
    await teacher.click("С помощью друзей, которым доверяете")
    assert "Выбрать другой способ" not in teacher.buttons()


async def test_no_access_to_email_offers_help_and_a_specialist(app: BotApp, demo: Demo) -> None:
    teacher = app.teacher(408)
    await open_recovery_from_password_b(teacher, demo, EMAIL)
    await confirm_account(teacher, demo, EMAIL)
    await teacher.click("С помощью электронной почты")
    await teacher.click("У меня нет доступа к почте")
    assert "Нет доступа к почте?" in teacher.last_text
    await teacher.click("Вернуться к шагу")
    assert "Введите код из письма" in teacher.last_text
    await teacher.click("У меня нет доступа к почте")
    await teacher.click("Позвать специалиста")
    assert tr(app, "↩️ Back to the bot") in teacher.buttons()


async def test_passwords_are_deleted_and_never_logged_or_stored(
    app: BotApp, demo: Demo, caplog
) -> None:
    caplog.set_level(logging.DEBUG)
    teacher = app.teacher(409)
    await reach_new_password(teacher, demo)
    weak = "weakpass"

    sent = [await teacher.send(weak), await teacher.send(NEW_PASSWORD)]
    sent.append(await teacher.send(NEW_PASSWORD))

    deleted = {c.message_id for c in app.telegram.calls_of(DeleteMessage)}
    for message in sent:
        assert message.message_id in deleted
        assert message.message_id not in teacher.log.messages
    assert all(NEW_PASSWORD not in (m.text or "") for m in teacher.bot_messages())
    assert NEW_PASSWORD not in caplog.text and weak not in caplog.text
    await app.sessions.flush()  # link sessions are written behind
    async with app.engine.connect() as db:
        for table in ("fsm_records", "link_sessions", "analytics_events"):
            rows = (await db.execute(text(f"SELECT * FROM {table}"))).all()
            assert NEW_PASSWORD not in repr(rows) and weak not in repr(rows)


async def test_back_to_an_answered_question_follows_the_backend(app: BotApp, demo: Demo) -> None:
    teacher = app.teacher(410)
    await open_recovery_from_password(teacher, demo, APP)
    await confirm_account(teacher, demo, APP)
    await teacher.click("Назад")  # the account is confirmed on the backend: no way back
    assert "Туда вернуться не получится" in teacher.last_text
    assert "Как вы хотите подтвердить" in teacher.last_text


async def test_back_from_the_first_screen_returns_to_the_password(app: BotApp, demo: Demo) -> None:
    teacher = app.teacher(411)
    await open_recovery_from_password(teacher, demo, APP)
    await teacher.click("Назад")
    assert "Забыли или не установили пароль?" in teacher.buttons()
    await teacher.send(demo[APP].vk_password or "")
    assert "последние 4 цифры" in teacher.last_text


async def test_vpn_is_refused_and_retried_once_turned_off(
    app: BotApp, demo: Demo, clock: FakeClock
) -> None:
    teacher = app.teacher(412)
    await teacher.send("не помню пароль")
    await demo.linking.dev_set_vpn(phone=demo[APP].phone, enabled=True)
    await teacher.send(demo[APP].phone)
    assert "VPN" in teacher.last_text
    assert await demo.codes_received(APP) == 0

    await demo.linking.dev_set_vpn(phone=demo[APP].phone, enabled=False)
    await teacher.click(tr(app, "I turned the VPN off — retry"))
    assert "SMS с кодом отправлено на телефон +7 *** ***-**-07" in teacher.last_text
    assert await demo.codes_received(APP) == 1
    # No linking was opened, so there is no session record; the refusal still counts in /stats.
    assert await app.sessions.get(412) is None
    events = await app.sessions.events(clock.now() - DAY, clock.now() + DAY)
    refusals = [(e.code, e.step) for e in events if e.user_id == 412 and e.kind == "refusal"]
    assert refusals == [("vpn_detected", "Recovery:phone")]


async def test_number_without_vk_id_is_explained(app: BotApp, demo: Demo) -> None:
    teacher = app.teacher(413)
    await teacher.send("забыла пароль")
    await teacher.send(demo["no_vkid"].phone)
    assert tr(app, "There is no VK ID account with this phone number.") in teacher.last_text
    await teacher.send("не номер")
    assert "Восстановление пароля от VK ID" in teacher.last_text


async def test_app_code_wrong_then_right(app: BotApp, demo: Demo) -> None:
    teacher = app.teacher(414)
    await open_recovery_from_password(teacher, demo, APP)
    await confirm_account(teacher, demo, APP)
    await teacher.click("С помощью приложения-генератора кодов")
    right = await app_code(demo, APP)
    await teacher.send("000000" if right != "000000" else "111111")
    assert "Код неверный" in teacher.last_text
    await teacher.send(right)
    assert "Придумайте новый пароль" in teacher.last_text


async def test_recovery_resumes_after_a_bot_restart(app: BotApp, demo: Demo) -> None:
    teacher = app.teacher(415)
    await open_recovery_from_password(teacher, demo, APP)
    await app.restart()
    await confirm_account(teacher, demo, APP)
    assert "Как вы хотите подтвердить" in teacher.last_text


async def test_expired_recovery_starts_again_from_the_phone(
    app: BotApp, demo: Demo, clock: FakeClock
) -> None:
    teacher = app.teacher(416)
    await open_recovery_from_password(teacher, demo, APP)
    code = await demo.last_code(APP)
    clock.advance(3601)  # the backend keeps a recovery for an hour

    await teacher.send(code)
    assert "Время на восстановление пароля истекло" in teacher.last_text
    await teacher.send(demo[APP].phone)
    assert "SMS с кодом отправлено на телефон +7 *** ***-**-07" in teacher.last_text


async def test_help_from_a_recovery_step_is_about_that_step(app: BotApp, demo: Demo) -> None:
    teacher = app.teacher(417)
    await reach_new_password(teacher, demo)
    await teacher.click("Не получается")
    assert "Новый пароль." in teacher.last_text
    assert "🔑 Восстановить пароль" not in teacher.buttons()  # she is already restoring it
    await teacher.click("Вернуться к шагу")
    assert "Придумайте новый пароль" in teacher.last_text
    await teacher.send("забыла пароль")  # inside recovery: help, not a second recovery
    assert "Не получается? Обычно помогает" in teacher.last_text
