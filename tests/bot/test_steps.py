"""The step table (bot/dialogs/steps.py) covers every state and says the same as the windows."""

from __future__ import annotations

import pytest
from aiogram.fsm.state import State, StatesGroup

from bot.dialogs import states
from bot.dialogs.help import HelpTopic, topics_for
from bot.dialogs.notices import HINTS
from bot.dialogs.states import Guide, Link, Recovery
from bot.dialogs.steps import SECRET_STEPS, STEP_ORDER, STEPS, step_label, step_position
from bot.i18n import create_i18n


def every_state() -> list[State]:
    groups = [
        value
        for value in vars(states).values()
        if isinstance(value, type) and issubclass(value, StatesGroup) and value is not StatesGroup
    ]
    return [state for group in groups for state in group.__all_states__]


def test_every_state_has_a_row() -> None:
    assert set(every_state()) == set(STEPS)
    assert list(STEP_ORDER) == [state.state for state in STEPS]


def test_the_secret_steps_are_the_password_and_code_steps() -> None:
    assert {
        Link.password,
        Link.code,
        Recovery.sms_code,
        Recovery.method_code,
        Recovery.friends,
        Recovery.new_password,
        Recovery.repeat_password,
        Guide.screen,  # guide mode: what she types may be meant for the e-journal's window
    } == SECRET_STEPS


def test_every_expected_input_has_a_hint_and_every_topic_a_tip() -> None:
    assert {info.expects for info in STEPS.values()} <= set(HINTS)
    assert {topic for info in STEPS.values() for topic in info.help} <= set(HelpTopic)
    assert all(topics_for(state.state) == info.help for state, info in STEPS.items())


def test_every_label_is_translated() -> None:
    i18n = create_i18n("ru")
    with i18n.context(), i18n.use_locale("ru"):
        labels = [step_label(state) for state in STEPS]
    assert all(label and any("\u0400" <= ch <= "\u04ff" for ch in label) for label in labels)
    assert len(set(labels)) == len(labels)


PLANS = {
    # route: steps in order, each with the windows that count as it
    ("new_profile", False): [
        ["Link:phone"],
        ["Link:account_card"],
        ["Link:password"],
        ["Link:code"],
        ["Link:full_name", "Link:birth_date", "Link:gender", "Link:confirm_data"],
        ["Link:consent", "Link:cancel_confirm"],
    ],
    ("registration", False): [
        ["Link:phone"],
        ["Link:code"],
        ["Link:full_name", "Link:birth_date", "Link:gender", "Link:confirm_data"],
        ["Link:consent", "Link:cancel_confirm"],
    ],
    ("existing_profile", False): [
        ["Link:phone"],
        ["Link:password"],
        ["Link:code"],
        ["Link:choose_profile"],
        ["Link:full_name", "Link:birth_date", "Link:gender", "Link:confirm_data"],
        ["Link:consent", "Link:cancel_confirm"],
    ],
    ("existing_profile", True): [
        ["Link:phone"],
        ["Link:code"],
        ["Link:choose_profile"],
        ["Link:full_name", "Link:birth_date", "Link:gender", "Link:confirm_data"],
        ["Link:consent", "Link:cancel_confirm"],
    ],
}


@pytest.mark.parametrize(("scenario", "authorised"), PLANS)
def test_progress_follows_the_scenario(scenario: str, authorised: bool) -> None:
    plan = PLANS[(scenario, authorised)]
    counted = {step for windows in plan for step in windows}
    for k, windows in enumerate(plan, start=1):
        for step in windows:
            assert step_position(step, scenario, authorised) == (k, len(plan)), step
    for state in Link.__all_states__:
        if state.state not in counted:
            assert step_position(state.state, scenario, authorised) is None, state


def test_recovery_counts_its_own_six_steps() -> None:
    assert step_position("Recovery:phone", "new_profile") == (1, 6)
    assert step_position("Recovery:friends") == (5, 6)  # the friends' codes: like a method code
    assert step_position("Recovery:done") == (6, 6)
    assert step_position("Onboarding:greeting") is None


def test_back_goes_only_where_the_backend_goes_back() -> None:
    from bot.dialogs.steps import may_go_back

    assert not may_go_back(Link.code, "Link:password")  # VK ID has accepted the password
    assert not may_go_back(Link.code, "Link:account_card")
    assert may_go_back(Link.code, "Link:phone")  # a new number is taken while the code waits
    assert not may_go_back(Link.full_name, "Link:code")  # the code is spent
    assert may_go_back(Link.consent, "Link:confirm_data")  # details are taken until consent
    assert not may_go_back(Recovery.method, "Recovery:confirm_account")
    assert may_go_back(Recovery.repeat_password, "Recovery:new_password")
    for state, info in STEPS.items():  # «Назад» stays inside the dialog of the step
        assert all(target.group is state.group for target in info.back_to), state


def test_the_phone_step_says_the_span_of_totals_from_the_table() -> None:
    from bot.dialogs.progress import progress_line

    i18n = create_i18n("ru")
    with i18n.context(), i18n.use_locale("ru"):
        before = progress_line("Link:phone", None, False)
        after = progress_line("Link:phone", "registration", False)
    totals = [len(plan) for plan in PLANS.values()]
    assert before == f"Шаг 1 из {min(totals)}–{max(totals)}"
    assert after == "Шаг 1 из 4"
