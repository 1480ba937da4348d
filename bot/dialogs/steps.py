"""Every step of the bot in one table: what operators call it, which tips help on it, what its
window waits for, whether it receives a secret, its place in «Шаг k из n», and the screens «Назад»
may return to from it.

Everything per step is read from here: the help screen, the hint for input a window cannot use,
transcript masking (through `SECRET_STEPS`, injected into the transcript middleware), the helpdesk
card, the /stats funnel order and the progress line. A test checks that every state has a row.
No Telegram and no dialog code here, so any module may read it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from aiogram.fsm.state import State
from aiogram.utils.i18n import lazy_gettext as __

from bot.dialogs.states import Guide, Handoff, Help, Link, Onboarding, Recovery


class HelpTopic(StrEnum):
    """The tips of the help screen (their texts live in bot/dialogs/help.py)."""

    WRONG_NUMBER = "wrong_number"
    CODE_LATE = "code_late"
    VPN = "vpn"
    EXISTING_PROFILE = "existing_profile"
    FORGOT_PASSWORD = "forgot_password"
    BROWSER = "browser"
    PERSONAL_DATA = "personal_data"
    PASSWORD_POLICY = "password_policy"
    CODE_APP = "code_app"
    NO_EMAIL_ACCESS = "no_email_access"
    FRIENDS = "friends"


class Route(StrEnum):
    """A teacher's way through one dialog, which decides the steps «Шаг k из n» counts."""

    NEW_PROFILE = "new_profile"  # A; also the guess before the phone (the longest plan)
    EXISTING_PROFILE = "existing_profile"  # B, VK ID asks for the password
    EXISTING_SIGNED_IN = "existing_profile_signed_in"  # B, VK ID session already signed in
    REGISTRATION = "registration"  # A without a VK ID yet
    RECOVERY = "recovery"  # C


@dataclass(frozen=True)
class Progress:
    """The step's place in «Шаг k из n»: windows with the same `stage` count as one step."""

    stage: int
    skipped_on: frozenset[Route] = frozenset()


DEFAULT_HELP = (HelpTopic.VPN, HelpTopic.BROWSER, HelpTopic.EXISTING_PROFILE)


@dataclass(frozen=True)
class Picture:
    """A picture shown above the step's window the first time the dialog shows it.

    `name` is a file of bot/assets/pictures (without .png); `only_if` names a condition of
    bot/dialogs/pictures.py (e.g. "by_call": only while the code comes by a call-reset).
    """

    name: str
    only_if: str | None = None


@dataclass(frozen=True)
class StepInfo:
    """One step's facts. `expects` names the hint (bot/dialogs/notices.py) shown when the window
    gets something it cannot use; `secret` steps receive passwords or codes.

    `back_to`: the screens «Назад» may return to from this one — those where the backend still
    takes the teacher's answer once she is here (the code step cannot go back to the password:
    VK ID has accepted it). Elsewhere «Назад» explains and points to «Начать заново». Leaving a
    nested dialog from its first screen (Recovery back to the link step) is always allowed: the
    step below is where it was.
    """

    label: Any  # a lazy gettext string: the operators' short name for the step
    help: tuple[HelpTopic, ...] = DEFAULT_HELP
    expects: str = "use_buttons"
    secret: bool = False
    progress: Progress | None = None
    back_to: frozenset[State] = frozenset()
    picture: Picture | None = None


_T = HelpTopic
_NOT_B = frozenset({Route.EXISTING_PROFILE, Route.EXISTING_SIGNED_IN})
_PERSONAL = (_T.PERSONAL_DATA,)
_PASSWORD_POLICY = (_T.PASSWORD_POLICY,)
# The personal-data windows are the bot's own (one backend call at «Всё верно»), and the backend
# takes a chosen profile and the details again until consent: among these «Назад» goes freely.
_PERSONAL_SCREENS = frozenset(
    {Link.full_name, Link.birth_date, Link.gender, Link.confirm_data, Link.choose_profile}
)

# In the order of the funnel (/stats lists steps this way).
STEPS: Mapping[State, StepInfo] = {
    Onboarding.greeting: StepInfo(__("greeting"), expects="expect_start"),
    Onboarding.prechecks: StepInfo(
        __("pre-checks"), expects="expect_prechecks", back_to=frozenset({Onboarding.greeting})
    ),
    Onboarding.branch: StepInfo(
        __("profile question"), expects="expect_branch", back_to=frozenset({Onboarding.prechecks})
    ),
    Onboarding.already_linked: StepInfo(__("already linked"), expects="all_done"),
    Onboarding.how_to_open: StepInfo(
        __("how to open the assistant"),
        expects="expect_journal",
        picture=Picture("journal_messenger_icon"),  # steps 1–2 of the guide
    ),
    Onboarding.restart_confirm: StepInfo(__("start over?"), expects="expect_restart_confirm"),
    Link.phone: StepInfo(
        __("phone"),
        help=(_T.EXISTING_PROFILE, _T.VPN, _T.BROWSER),
        expects="phone_format",
        progress=Progress(1),
        # After «Изменить номер» the backend still waits for the code in flight.
        back_to=frozenset({Link.code}),
    ),
    Link.account_card: StepInfo(
        __("account card"),
        help=(_T.EXISTING_PROFILE, _T.VPN),
        expects="expect_create_profile",
        progress=Progress(2, skipped_on=_NOT_B | {Route.REGISTRATION}),
        back_to=frozenset({Link.phone}),
    ),
    Link.password: StepInfo(
        __("password"),
        help=(_T.FORGOT_PASSWORD, _T.VPN),
        expects="password_empty",
        secret=True,
        progress=Progress(3, skipped_on=frozenset({Route.EXISTING_SIGNED_IN, Route.REGISTRATION})),
        back_to=frozenset({Link.phone, Link.account_card}),
        picture=Picture("forgot_password"),  # where «Забыли или не установили пароль?» is
    ),
    Link.code: StepInfo(
        __("code"),
        help=(_T.CODE_LATE, _T.WRONG_NUMBER, _T.VPN),
        expects="code_format",
        secret=True,
        progress=Progress(4),
        back_to=frozenset({Link.phone}),  # a new number, not the password VK ID has accepted
        picture=Picture("call_reset", only_if="by_call"),  # which four digits to write
    ),
    Link.choose_profile: StepInfo(
        __("choosing the profile"),
        help=(_T.EXISTING_PROFILE,),
        expects="expect_profile",
        progress=Progress(5, skipped_on=frozenset({Route.NEW_PROFILE, Route.REGISTRATION})),
        back_to=_PERSONAL_SCREENS,  # after «Назад» from the details; the code is spent
    ),
    Link.full_name: StepInfo(
        __("full name"),
        help=_PERSONAL,
        expects="name_format",
        progress=Progress(6),
        back_to=_PERSONAL_SCREENS,
    ),
    Link.birth_date: StepInfo(
        __("date of birth"),
        help=_PERSONAL,
        expects="date_format",
        progress=Progress(6),
        back_to=_PERSONAL_SCREENS,
    ),
    Link.gender: StepInfo(
        __("gender"),
        help=_PERSONAL,
        expects="expect_gender",
        progress=Progress(6),
        back_to=_PERSONAL_SCREENS,
    ),
    Link.confirm_data: StepInfo(
        __("checking the data"),
        help=_PERSONAL,
        expects="expect_confirm",
        progress=Progress(6),
        back_to=_PERSONAL_SCREENS,
    ),
    Link.consent: StepInfo(
        __("consent"),
        help=(_T.VPN, _T.BROWSER),
        expects="expect_consent",
        progress=Progress(7),
        back_to=_PERSONAL_SCREENS,  # the backend takes the details again until consent
    ),
    Link.cancel_confirm: StepInfo(
        __("cancelling the linking?"),
        help=(_T.VPN, _T.BROWSER),
        expects="expect_cancel_confirm",
        progress=Progress(7),
        back_to=frozenset({Link.consent}),
    ),
    Link.done: StepInfo(__("linked"), expects="all_done"),
    Recovery.phone: StepInfo(
        __("recovery: phone"),
        help=(_T.WRONG_NUMBER, _T.VPN),
        expects="phone_format",
        progress=Progress(1),
    ),
    Recovery.sms_code: StepInfo(
        __("recovery: SMS code"),
        help=(_T.CODE_LATE, _T.WRONG_NUMBER),
        expects="code_format",
        secret=True,
        progress=Progress(2),
        back_to=frozenset({Recovery.phone}),  # another number starts another recovery
    ),
    Recovery.confirm_account: StepInfo(
        __("recovery: is it your account"), help=(_T.WRONG_NUMBER,), progress=Progress(3)
    ),
    Recovery.method: StepInfo(
        __("recovery: method"),
        help=(_T.CODE_APP, _T.NO_EMAIL_ACCESS, _T.FRIENDS),
        progress=Progress(4),
        back_to=frozenset({Recovery.method_code, Recovery.friends}),
    ),
    Recovery.method_code: StepInfo(
        __("recovery: method code"),
        help=(_T.CODE_APP, _T.NO_EMAIL_ACCESS),
        expects="code_format",
        secret=True,
        progress=Progress(5),
        back_to=frozenset({Recovery.method}),  # the backend lets her choose another way
    ),
    Recovery.friends: StepInfo(
        __("recovery: trusted friends"),
        help=(_T.FRIENDS,),
        expects="code_format",
        secret=True,  # the friends' codes are typed here
        progress=Progress(5),
        back_to=frozenset({Recovery.method}),
    ),
    Recovery.new_password: StepInfo(
        __("recovery: new password"),
        help=_PASSWORD_POLICY,
        expects="password_empty",
        secret=True,
        progress=Progress(6),
        back_to=frozenset({Recovery.repeat_password}),
    ),
    Recovery.repeat_password: StepInfo(
        __("recovery: repeat password"),
        help=_PASSWORD_POLICY,
        expects="password_empty",
        secret=True,
        progress=Progress(6),
        back_to=frozenset({Recovery.new_password}),
    ),
    Recovery.done: StepInfo(__("recovery: done"), progress=Progress(6)),
    # Whatever she types while she works in the window may be a code or a password meant for
    # it: the transcript keeps none of it.
    Guide.screen: StepInfo(
        __("guide mode: e-journal's window"),
        help=(_T.VPN, _T.CODE_LATE, _T.EXISTING_PROFILE, _T.FORGOT_PASSWORD),
        expects="guide_type_in_window",
        secret=True,
    ),
    Help.topic: StepInfo(__("help screen"), expects="expect_help"),
    Handoff.chatting: StepInfo(__("helpdesk: conversation")),
    Handoff.rating: StepInfo(__("helpdesk: rating"), expects="expect_rating"),
    Handoff.comment: StepInfo(__("helpdesk: comment")),
}

_BY_NAME: dict[str, StepInfo] = {state.state: info for state, info in STEPS.items()}  # type: ignore[misc]

STEP_ORDER: tuple[str, ...] = tuple(_BY_NAME)
"""Step names ("Link:code") in the funnel's order."""

SECRET_STEPS: frozenset[State] = frozenset(s for s, info in STEPS.items() if info.secret)
"""States whose input is a password or a code: the transcript hides such messages whole."""


def step_info(step: State | str | None) -> StepInfo | None:
    """The row of a state or of its name ("Link:code"), None for an unknown step."""
    if isinstance(step, State):
        return STEPS.get(step)
    return _BY_NAME.get(step or "")


def step_label(step: State | str | None) -> str | None:
    """The operators' short name of a step, in the current language; None when unknown."""
    info = step_info(step)
    return str(info.label) if info is not None else None


def help_topics(step: State | str | None) -> tuple[HelpTopic, ...]:
    info = step_info(step)
    return info.help if info is not None else DEFAULT_HELP


def may_go_back(step: State | str | None, target: str) -> bool:
    """Whether «Назад» from `step` may return to the screen `target` ("Link:phone")."""
    info = step_info(step)
    return info is not None and any(state.state == target for state in info.back_to)


def expected_input(state: State | None) -> str:
    """The hint saying what the window of `state` waits for."""
    info = step_info(state)
    return info.expects if info is not None else "use_buttons"


# --------------------------------------------------------------------------- progress


def route_of(group: str, scenario: str | None, authorised: bool) -> Route:
    """The route a step of `group` ("Link", "Recovery") is counted on."""
    if group == Recovery.__full_group_name__:
        return Route.RECOVERY
    if scenario == Route.REGISTRATION:
        return Route.REGISTRATION
    if scenario == Route.EXISTING_PROFILE:
        return Route.EXISTING_SIGNED_IN if authorised else Route.EXISTING_PROFILE
    return Route.NEW_PROFILE


def _group_of(name: str) -> str:
    return name.split(":", 1)[0]


def _plan(group: str, route: Route) -> list[int]:
    """The stages of `route` in `group`, in order: «Шаг k» is the k-th of them."""
    return sorted(
        {
            info.progress.stage
            for name, info in _BY_NAME.items()
            if info.progress is not None
            and _group_of(name) == group
            and route not in info.progress.skipped_on
        }
    )


def _routes(group: str) -> tuple[Route, ...]:
    if group == Recovery.__full_group_name__:
        return (Route.RECOVERY,)
    return tuple(route for route in Route if route is not Route.RECOVERY)


_PLANS: dict[tuple[str, Route], list[int]] = {
    (group, route): _plan(group, route)
    for group in {_group_of(name) for name in _BY_NAME}
    for route in _routes(group)
}


def total_span(step: str) -> tuple[int, int] | None:
    """The fewest and the most steps of the routes `step` is counted on, before the backend has
    chosen one («Шаг 1 из 4–6»); None when the step is not numbered."""
    info = _BY_NAME.get(step)
    if info is None or info.progress is None:
        return None
    group = _group_of(step)
    totals = [
        len(_PLANS[(group, route)])
        for route in _routes(group)
        if route not in info.progress.skipped_on
    ]
    return min(totals), max(totals)


def step_position(
    step: str, scenario: str | None = None, authorised: bool = False
) -> tuple[int, int] | None:
    """(k, n) of `step` on the teacher's route, or None when it is not a numbered step."""
    info = _BY_NAME.get(step)
    if info is None or info.progress is None:
        return None
    group = _group_of(step)
    route = route_of(group, scenario, authorised)
    if route in info.progress.skipped_on:
        return None
    plan = _PLANS[(group, route)]
    return plan.index(info.progress.stage) + 1, len(plan)
