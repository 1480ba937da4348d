"""Walking scenario C: codes come from the backend's dev inbox, mailbox and authenticator."""

from __future__ import annotations

from tests.bot.helpers import Demo, open_from_journal, reach_password
from tests.support.bot_app import BotApp
from tests.support.fake_telegram import Person

NEW_PASSWORD = "Novyi#Parol2026"


async def sms_code(demo: Demo, case: str) -> str:
    return await demo.last_code(case)


async def email_code(demo: Demo, case: str) -> str:
    email = demo[case].email
    assert email, f"{case} has no e-mail"
    mailbox = await demo.linking.dev_mailbox(email)
    assert mailbox, "no e-mail was delivered"
    return mailbox[-1].code


async def emails_received(demo: Demo, case: str) -> int:
    return len(await demo.linking.dev_mailbox(demo[case].email or ""))


async def app_code(demo: Demo, case: str) -> str:
    return await demo.linking.dev_totp(demo[case].phone)


async def friend_codes(demo: Demo, case: str) -> list[str]:
    """The last code each trusted friend got, in the order the bot asks for them."""
    return [friend.inbox[-1].code for friend in await demo.linking.dev_friends(demo[case].phone)]


async def confirm_account(teacher: Person, demo: Demo, case: str) -> None:
    """From the SMS code window to the method window."""
    await teacher.send(await sms_code(demo, case))
    await teacher.click("Да, это я")


async def set_new_password(teacher: Person, password: str = NEW_PASSWORD) -> None:
    """New password twice, from the new-password window."""
    await teacher.send(password)
    await teacher.send(password)


def tr(app: BotApp, msgid: str, locale: str = "ru") -> str:
    """A catalog string as the teacher sees it (strings owned by other dialogs included)."""
    return app.i18n.gettext(msgid, locale=locale)


async def open_recovery_from_password(teacher: Person, demo: Demo, case: str) -> None:
    """Scenario A up to the password step, then «Забыли или не установили пароль?»."""
    await reach_password(teacher, demo, case)
    await teacher.click("Забыли или не установили пароль?")


async def open_recovery_from_password_b(teacher: Person, demo: Demo, case: str) -> None:
    """Scenario B (profile exists, not signed in) up to the password step, then recovery."""
    await open_from_journal(teacher, demo, case, "Да")
    await teacher.send(demo[case].phone)
    await teacher.click("Забыли или не установили пароль?")


def missing_rules(app: BotApp, shown: str) -> str:
    """The «Не хватает: …» part of a weak-password refusal."""
    prefix = tr(app, "The new password is too simple. Missing: {rules}.").split("{rules}")[0]
    assert prefix in shown, shown
    return shown.split(prefix, 1)[1].split("\n", 1)[0]


async def reach_new_password(
    teacher: Person, demo: Demo, case: str = "forgot_password_app"
) -> None:
    """Recovery by the code-generator app up to «Придумайте новый пароль»."""
    await open_recovery_from_password(teacher, demo, case)
    await confirm_account(teacher, demo, case)
    await teacher.click("С помощью приложения-генератора кодов")
    await teacher.send(await app_code(demo, case))
