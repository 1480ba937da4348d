"""`bot.i18n.translate` answers exactly what aiogram's `gettext` answers, in every context."""

from __future__ import annotations

import contextvars

import pytest
from aiogram.utils.i18n import gettext

from bot.i18n import create_i18n, translate, use_i18n

MSGIDS = ("Step {k} of {n}", "a text no catalog has")


@pytest.mark.parametrize("locale", ["ru", "en", "de"])
def test_same_text_as_aiogram_gettext(locale: str) -> None:
    i18n = create_i18n()
    with use_i18n(i18n, locale):
        for msgid in MSGIDS:
            assert translate(msgid) == gettext(msgid)
    with use_i18n(i18n, "ru"):
        assert translate("Step {k} of {n}") != "Step {k} of {n}"  # really translated


def test_follows_a_locale_set_inside_the_context() -> None:
    i18n = create_i18n()
    with use_i18n(i18n, "ru"), i18n.use_locale("en"):  # as /language does
        assert translate("Step {k} of {n}") == "Step {k} of {n}"


def test_without_a_context_it_fails_as_aiogram_does() -> None:
    def both_fail() -> None:
        with pytest.raises(LookupError):
            gettext("Step {k} of {n}")
        with pytest.raises(LookupError):
            translate("Step {k} of {n}")

    contextvars.Context().run(both_fail)  # no I18n set in a fresh context
