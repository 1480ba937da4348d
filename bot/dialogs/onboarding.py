"""Onboarding: greeting by name, the pre-checks, the branch question; and the entry screens for
a teacher without a link (/start alone) or with an already linked account."""

from __future__ import annotations

import html
from typing import Any

from aiogram import F
from aiogram.types import CallbackQuery
from aiogram_dialog import Data, Dialog, DialogManager
from aiogram_dialog.widgets.kbd import Row, Url
from aiogram_dialog.widgets.text import Format

from bot.deps import deps
from bot.dialogs.context import start_data_of
from bot.dialogs.guide import start_guide
from bot.dialogs.inputs import any_input
from bot.dialogs.navigation import help_button, nav_row
from bot.dialogs.notices import notice_text, put_notice
from bot.dialogs.restart import confirm_restart
from bot.dialogs.states import Link, Onboarding
from bot.dialogs.step_window import step_getter
from bot.widgets.i18n import I18nConst, I18nFormat
from bot.widgets.kbd import Button
from bot.widgets.window import Window


def polite_name(mesh_full_name: str, fallback: str | None) -> str:
    """«Иванова Мария Петровна» → «Мария Петровна» (first name and patronymic, as at school)."""
    words = mesh_full_name.split()
    if len(words) >= 2:
        return " ".join(words[1:3])
    return fallback or ""


async def onboarding_getter(dialog_manager: DialogManager, **_kwargs: Any) -> dict[str, Any]:
    start = dict(start_data_of(dialog_manager))
    profile = start.get("profile") or {}
    settings = deps(dialog_manager)["settings"]
    return {
        "name": html.escape(polite_name(start.get("mesh_name", ""), start.get("first_name"))),
        "mesh_name": html.escape(start.get("mesh_name", "")),
        "school": html.escape(start.get("school", "")),
        "profile_name": html.escape(profile.get("full_name", "")),
        "profile_school": html.escape(profile.get("school", "")),
        "has_profile": bool(profile),
        "journal_url": settings.mesh_journal_url,
        "past_code": bool(start.get("past_code")),
    }


async def _to_prechecks(callback: CallbackQuery, button: Any, manager: DialogManager) -> None:
    await manager.switch_to(Onboarding.prechecks)


async def _return_to_step(callback: CallbackQuery, button: Any, manager: DialogManager) -> None:
    await manager.done()


async def _restart_confirmed(callback: CallbackQuery, button: Any, manager: DialogManager) -> None:
    await confirm_restart(manager)


async def _guide_self(callback: CallbackQuery, button: Any, manager: DialogManager) -> None:
    """Guide mode from the start: she links in the e-journal's window, I follow and help."""
    await start_guide(manager, start_data_of(manager)["flow_id"])


async def _to_branch(callback: CallbackQuery, button: Any, manager: DialogManager) -> None:
    await manager.switch_to(Onboarding.branch)


async def _on_branch(callback: CallbackQuery, button: Any, manager: DialogManager) -> None:
    branch = button.widget_id.removeprefix("branch_")
    start = dict(start_data_of(manager))
    await manager.start(
        Link.phone,
        data={
            "flow_id": start["flow_id"],
            "mesh_name": start.get("mesh_name"),
            "school": start.get("school"),
            "branch": branch,
        },
    )


def create_onboarding_dialog() -> Dialog:
    return Dialog(
        Window(
            I18nFormat(
                "Hello, {name}! 👋\n\n"
                "I will help you link your e-journal account to a Sferum study profile in "
                "VK Messenger. We will go step by step and do each step together. Keep your "
                "phone at hand: a confirmation code will come to it.\n\n"
                "Would you rather type the password and codes only in the e-journal's own "
                "window? Press «I will do it myself in the e-journal»: I will follow your "
                "window and tell you what to do on each screen.\n\n"
                "E-journal account: {mesh_name}, {school}"
            ),
            notice_text(),
            Button(I18nConst("Let's start"), id="begin", on_click=_to_prechecks),
            Button(
                I18nConst("🖥 I will do it myself in the e-journal"),
                id="guide_self",
                on_click=_guide_self,
            ),
            help_button(),
            any_input(),
            state=Onboarding.greeting,
        ),
        Window(
            I18nConst(
                "<b>Before we start</b>\n"
                "• If you use a VPN, turn it off: linking does not work while a VPN is on.\n"
                "• For the e-journal we recommend Google Chrome or Yandex Browser."
            ),
            notice_text(),
            Button(I18nConst("VPN is off, continue"), id="prechecks_ok", on_click=_to_branch),
            nav_row(),
            any_input(),
            state=Onboarding.prechecks,
        ),
        Window(
            I18nConst("Do you already have a Sferum study profile in VK Messenger?"),
            I18nConst(
                "A <b>Sferum study profile</b> is your teacher's account on the Sferum platform; "
                "you open it in VK Messenger."
            ),
            I18nConst("Not sure? That's fine: I will check it by your phone number."),
            notice_text(),
            Row(
                Button(I18nConst("Yes"), id="branch_yes", on_click=_on_branch),
                Button(I18nConst("No"), id="branch_no", on_click=_on_branch),
                Button(I18nConst("I don't know"), id="branch_unknown", on_click=_on_branch),
            ),
            nav_row(),
            any_input(),
            state=Onboarding.branch,
        ),
        Window(
            I18nFormat(
                "Your e-journal account is already linked to a Sferum study profile: "
                "{profile_name}, {profile_school}.\n\n"
                "Nothing else to do: open VK Messenger and sign in with VK ID — your school's "
                "chats are in the «Сферум» section.",
                when="has_profile",
            ),
            I18nConst(
                "Your e-journal account is already linked to a Sferum study profile.",
                when=~F["has_profile"],
            ),
            notice_text(),
            help_button(),
            any_input(),
            state=Onboarding.already_linked,
        ),
        Window(
            I18nConst(
                "To start linking, open me from the e-journal:\n"
                "1. Sign in to the e-journal and press the messenger icon in the navigation "
                "bar.\n"
                "2. Press «Перейти к подключению».\n\n"
                "The e-journal opens this chat with a personal link, and we go on together."
            ),
            notice_text(),
            Url(I18nConst("Open the e-journal"), Format("{journal_url}"), id="journal"),
            help_button(),
            any_input(),
            state=Onboarding.how_to_open,
        ),
        Window(
            I18nConst(
                "<b>Start over?</b>\n"
                "We will go through the linking again from the beginning: the phone number, "
                "the VK ID sign-in and a new confirmation code. What you have given so far "
                "will not be kept."
            ),
            I18nConst(
                "This is also the way to link another phone number: you will give it at the "
                "phone step.",
                when="past_code",
            ),
            notice_text(),
            Button(I18nConst("Yes, start over"), id="restart_yes", on_click=_restart_confirmed),
            Button(I18nConst("↩️ Back to the step"), id="return_to_step", on_click=_return_to_step),
            any_input(),
            state=Onboarding.restart_confirm,
        ),
        getter=[step_getter, onboarding_getter],
        on_start=_on_start,
    )


async def _on_start(start_data: Data, manager: DialogManager) -> None:
    # start() renders at once, so a notice for the first window comes in the start data.
    notice = (start_data or {}).get("notice") if isinstance(start_data, dict) else None
    if notice:
        put_notice(manager, notice)
