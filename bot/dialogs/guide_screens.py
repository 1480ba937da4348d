"""Guide mode's words: for each screen of the e-journal's window, what it is called there and
what to do on it (the seed guide's steps), its picture; and the bot's reactions to what happens
in the window (a wrong code, a VPN refusal, a call that does not come, a second profile, being
stuck). No Telegram here: the dialog (bot/dialogs/guide.py) renders these.

A screen is the flow's state as the events feed reports it («code»), with the code's channel
(«code_sms») or a password recovery's state («recovery_method») where the window shows another
screen for it; «journal» is the e-journal before its window is opened.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from aiogram.utils.i18n import gettext as _
from aiogram.utils.i18n import lazy_gettext as __

from bot.dialogs.countdown import format_clock
from bot.dialogs.refusals import attempts_text, explain_refusal

STUCK_AFTER = 180  # seconds on one screen without a move: offer help and a specialist
FINISHED = frozenset({"linked", "cancelled"})


@dataclass(frozen=True)
class Screen:
    """One screen of the window: its own title (quoted as the window shows it), what to do."""

    title: str  # the window's words, not translated: she sees them in Russian there
    what_to_do: Any  # lazy gettext
    picture: str | None = None  # bot/assets/pictures/<name>.png


SCREENS: Mapping[str, Screen] = {
    "journal": Screen(
        "Мессенджер не подключен",
        __(
            "In the e-journal, press the messenger icon in the navigation bar. The window "
            "«Мессенджер не подключен» opens: press «Перейти к подключению»."
        ),
        "journal_messenger_icon",
    ),
    "phone": Screen(
        "Вход в VK ID",
        __(
            "Write your mobile number in the field «Телефон или почта» and press «Продолжить».\n"
            "If a Sferum study profile is already registered on this number, do not create a "
            "new one: sign in with the one you have."
        ),
        "guide_vkid_phone",
    ),
    "password": Screen(
        "Введите пароль",
        __(
            "Check the account details. If you have no study profile yet, press «Создать "
            "учебный профиль». Then write your VK ID password in the window and press "
            "«Продолжить». It stays in the window: I do not see it.\n"
            "Forgot it or never set one? Press «Забыли или не установили пароль?» there."
        ),
        "forgot_password",
    ),
    "password_b": Screen(
        "Введите пароль",
        __(
            "You already have a study profile, and VK ID asks for its password: write your VK ID "
            "password in the window and press «Продолжить». It stays in the window: I do not see "
            "it.\nForgot it? Press «Забыли или не установили пароль?» there."
        ),
        "forgot_password",
    ),
    "code": Screen(
        "Подтвердите вход",
        __(
            "A reset call from a unique number will come to your phone; you do not need to "
            "answer it. Write the <b>last 4 digits of the number that called you</b> in the "
            "field «Введите 4 цифры» and press «Продолжить». The call comes within 0:56."
        ),
        "call_reset",
    ),
    "code_sms": Screen(
        "Подтвердите вход",
        __(
            "An SMS with a code came to your phone: write the code in the window and press "
            "«Продолжить»."
        ),
    ),
    "profile": Screen(
        "Ваш профиль для связки",
        __(
            "Check that this is your study profile and press «Продолжить». Do not press «Войти "
            "в другой аккаунт»: a second study profile is not needed."
        ),
    ),
    "personal_data": Screen(
        "Информация о себе",
        __(
            "Check your real full name, date of birth and gender (write them if the fields are "
            "empty) and press «Продолжить»."
        ),
    ),
    "consent": Screen(
        "Добавление профиля Сферум",
        __(
            "The last screen. To link your e-journal account with the study profile, press "
            "«Привязать». «Отмена» would cancel the linking."
        ),
        "guide_consent",
    ),
    "linked": Screen(
        "Привязка профиля к платформе «Сферум»",
        __(
            "🎉 Done! Your Sferum study profile in VK Messenger is linked to your e-journal "
            "account. Open VK Messenger and sign in with VK ID: your school's chats are in the "
            "«Сферум» section."
        ),
    ),
    "cancelled": Screen(
        "Мессенджер не подключен",
        __(
            "You pressed «Отмена»: nothing was linked. To link later, open me from the "
            "e-journal again."
        ),
    ),
    "recovery_code": Screen(
        "Введите код",
        __("An SMS with a code came to your phone: write it in the window and press «Отправить»."),
    ),
    "recovery_confirm_account": Screen(
        "Проверка аккаунта",
        __("Check that the window shows your account, and confirm it."),
    ),
    "recovery_method": Screen(
        "Способы подтверждения аккаунта",
        __(
            "Choose how to confirm the account is yours: the code-generator app, the e-mail, or "
            "friends you trust."
        ),
    ),
    "recovery_method_code": Screen(
        "Введите код",
        __("Write the code from the app or from the e-mail in the window and press «Подтвердить»."),
    ),
    "recovery_friends": Screen(
        "С помощью друзей",
        __(
            "Your trusted friends get codes: ask them by phone or in a messenger and write the "
            "codes in the window. If it is hard, a specialist will help."
        ),
    ),
    "recovery_new_password": Screen(
        "Придумайте новый пароль",
        __(
            "Make up a new password: at least 8 characters, with capital and small letters, "
            "digits and special characters (! # $ % *). Write it in both fields and press "
            "«Продолжить»."
        ),
    ),
    "recovery_repeat_password": Screen(
        "Повторите новый пароль",
        __("Write the same new password once more and press «Продолжить»."),
    ),
    "recovery_done": Screen(
        "Введите пароль",
        __(
            "The password is changed. Back in the window, write the new password and press "
            "«Продолжить»."
        ),
    ),
    "recovery_cancelled": Screen(
        "Вход в VK ID",
        __("The recovery was stopped. In the window, go back to signing in with VK ID."),
    ),
}


def screen_key(
    state: str | None,
    channel: str | None = None,
    recovery: str | None = None,
    scenario: str | None = None,
) -> str:
    """The screen the window shows for a flow state (and a code channel, a recovery state,
    the scenario: B asks for the password of the existing profile, without the account card)."""
    if recovery and f"recovery_{recovery}" in SCREENS:
        return f"recovery_{recovery}"
    if state == "code" and channel == "sms":
        return "code_sms"
    if state == "password" and scenario == "existing_profile":
        return "password_b"
    return state if state is not None and state in SCREENS else "journal"


def screen_of(key: str | None) -> Screen:
    return SCREENS.get(key or "", SCREENS["journal"])


def screen_card_name(key: str | None) -> str:
    """The exact screen for the helpdesk card: «e-journal window: «Подтвердите вход» (code)»."""
    return _("e-journal window: «{title}» ({key})").format(
        title=screen_of(key).title, key=key or "journal"
    )


# --------------------------------------------------------------------------- reactions


def reaction_text(reaction: Mapping[str, Any], now: datetime) -> str:
    """What the bot says about something that happened in the window (translated)."""
    kind = reaction.get("kind")
    if kind == "code_invalid":
        if reaction.get("channel") == "sms":
            text = _(
                "That code did not fit. Write the digits from the <b>latest</b> SMS, all of them, "
                "without spaces."
            )
        else:
            text = _(
                "That code did not fit. You need the <b>last 4 digits of the number that called "
                "you</b>, not of your own number: if +7 999 123-45-67 called, write 4567."
            )
        attempts = reaction.get("attempts_left")
        return text + (" " + attempts_text(int(attempts)) if attempts is not None else "")
    if kind == "vpn":
        return _(
            "The window refused because a VPN is on: linking does not work with a VPN. Turn it "
            "off — in the VPN app press «Отключить», or switch VPN off in the phone's or the "
            "browser's settings — then press «Продолжить» in the window again."
        )
    if kind == "call_late":
        return _(
            "No call yet? Press «Получить код по SMS» in the window (or ask for the call again): "
            "the SMS brings a code to write in the same field."
        )
    if kind == "second_profile":
        return _(
            "Stop: there is already a Sferum study profile on your number. Do not create a "
            "second one — sign in with the existing one and choose it on «Ваш профиль для "
            "связки»."
        )
    if kind == "signed_in_by_recovery":
        return _(
            "Password changed, and VK ID has let you in with it — no need to write it again. "
            "The window goes on to «Подтвердите вход»."
        )
    if kind == "scenario_changed":
        return _(
            "A Sferum study profile appeared on your number meanwhile, so a second one is not "
            "created. The window now shows «Ваш профиль для связки»: choose it and press "
            "«Продолжить»."
        )
    if kind == "wrong_password":
        text = _("The VK ID password did not fit.")
        attempts = reaction.get("attempts_left")
        if attempts is not None:
            text += " " + attempts_text(int(attempts))
        return (
            text
            + " "
            + _(
                "If you do not remember it, press «Забыли или не установили пароль?» in the window."
            )
        )
    if kind == "stuck":
        return _(
            "You have been on this screen for a while. Is something not working? Read what to "
            "do below, or call a specialist: they will see which screen you are on."
        )
    if kind == "resend_wait":
        return _("A new code can be requested in {wait}: the window shows the timer.").format(
            wait=format_clock(int(reaction.get("retry_after") or 0))
        )
    if kind == "refusal":
        return explain_refusal(reaction.get("refusal") or {}, now)
    return ""


def refusal_reaction(event: Any) -> dict[str, Any]:
    """A refusal event of the feed → the reaction to show."""
    code = event.code or ""
    if code == "code_invalid":
        return {"kind": "code_invalid", "attempts_left": event.attempts_left}
    if code == "vpn_detected":
        return {"kind": "vpn"}
    if code == "wrong_password":
        return {"kind": "wrong_password", "attempts_left": event.attempts_left}
    if code == "wrong_state" and event.profile_exists:
        return {"kind": "second_profile"}
    if code == "scenario_changed":
        return {"kind": "scenario_changed"}
    snapshot: dict[str, Any] = {"code": code, "at": event.at.isoformat()}
    for key in ("attempts_left", "retry_after"):
        value = getattr(event, key)
        if value is not None:
            snapshot[key] = value
    return {"kind": "refusal", "refusal": snapshot}
