"""Every dialog state of the bot, in one place; what each step is lives in bot/dialogs/steps.py
(label, help, expected input, secrecy, progress), one row per state."""

from __future__ import annotations

from aiogram.fsm.state import State, StatesGroup


class Onboarding(StatesGroup):
    """`/start <token>`: greeting, pre-checks, the branch question."""

    greeting = State()
    prechecks = State()
    branch = State()  # «У вас уже есть учебный профиль Сферум?» Да / Нет / Не знаю
    already_linked = State()
    how_to_open = State()  # `/start` without a token: the seed's steps 1–2
    restart_confirm = State()  # «Начать заново?» over the step, when something would be lost


class Link(StatesGroup):
    """Scenarios A (new profile), B (existing profile) and registration: one flow on the backend."""

    phone = State()
    account_card = State()  # A: «Создать учебный профиль»
    password = State()
    code = State()
    choose_profile = State()  # B: «Ваш профиль для связки» / «Войти в другой аккаунт»
    full_name = State()
    birth_date = State()
    gender = State()
    confirm_data = State()
    consent = State()  # «Привязать» / «Отмена»
    cancel_confirm = State()  # «Отмена» asks before the backend is told
    done = State()


class Recovery(StatesGroup):
    """Scenario C: VK ID password recovery, returns to the step of A or B that sent the teacher."""

    phone = State()
    sms_code = State()
    confirm_account = State()  # «Это ваш аккаунт?»
    method = State()
    method_code = State()  # code from the authenticator app or from the e-mail
    friends = State()
    new_password = State()
    repeat_password = State()
    done = State()


class Guide(StatesGroup):
    """Guide mode: she links in the e-journal's own window; the bot follows her flow's events
    and says what to do on the screen she is on (one window, its text follows the screen)."""

    screen = State()


class Help(StatesGroup):
    """«Не получается»: help for the current step, then «Позвать специалиста»."""

    topic = State()


class Handoff(StatesGroup):
    """A ticket with the helpdesk is open; the teacher's messages are relayed."""

    chatting = State()
    rating = State()
    comment = State()
