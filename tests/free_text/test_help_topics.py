"""Which tips the help screen shows for a step or a requested topic."""

import pytest

from bot.dialogs.help import HelpTopic, topics_for


@pytest.mark.parametrize(
    ("step", "expected"),
    [
        ("Link:code", {HelpTopic.CODE_LATE, HelpTopic.WRONG_NUMBER, HelpTopic.VPN}),
        ("Link:password", {HelpTopic.FORGOT_PASSWORD, HelpTopic.VPN}),
        ("Link:phone", {HelpTopic.EXISTING_PROFILE, HelpTopic.VPN, HelpTopic.BROWSER}),
        ("Recovery:sms_code", {HelpTopic.CODE_LATE, HelpTopic.WRONG_NUMBER}),
        ("Recovery:new_password", {HelpTopic.PASSWORD_POLICY}),
        (None, {HelpTopic.VPN, HelpTopic.BROWSER, HelpTopic.EXISTING_PROFILE}),
        ("Onboarding:branch", {HelpTopic.VPN, HelpTopic.BROWSER, HelpTopic.EXISTING_PROFILE}),
    ],
)
def test_step_tips(step: str | None, expected: set[HelpTopic]) -> None:
    assert set(topics_for(step)) == expected


def test_a_requested_topic_replaces_the_step_tips() -> None:
    assert topics_for("Link:code", "vpn") == (HelpTopic.VPN,)


def test_an_unknown_topic_falls_back_to_the_step() -> None:
    assert topics_for("Link:password", "nonsense") == topics_for("Link:password")
