"""The Russian catalog speaks with one voice and one vocabulary (docs/glossary.md)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from babel.messages.pofile import read_po

RU = Path(__file__).resolve().parents[2] / "bot/locales/ru/LC_MESSAGES/messages.po"

# msgid → why it may name the bot: texts for operators and admins, and the helpdesk's way back.
MAY_NAME_THE_BOT = {
    "how to open the assistant": "a step label for operators",
    "the teacher has blocked the bot": "for operators",
    "↩️ The teacher went back to the bot; the ticket is closed.": "for operators",
    "↩️ Back to the bot": "the way back from a person to the bot",
    "⚠️ The bot failed to handle update {update_id}: {error}. The teacher was asked to try "
    "again. Details are in the log; further failures within a minute are not reported here.": (
        "for the bot's admins"
    ),
}

FORBIDDEN: dict[str, re.Pattern[str]] = {
    "the bot is «я», never «мы»": re.compile(r"(?i)\b(мы|нас|нам|наш\w*)\b"),
    "typed input is «Напишите»": re.compile(
        r"\b(Введите|введите|Вводите|вводите|Пришлите|пришлите|Отправьте|отправьте|"
        r"Наберите|наберите|Укажите|укажите)\b"
    ),
    "Cyrillic is «русскими буквами»": re.compile(r"(?i)кириллиц"),
    "«учебный профиль Сферум»": re.compile(
        r"(?i)(?:\b(?!учебн)\w+\s+|^)профил\w*\s+‹?Сферум|профил\w*\s+‹?Сферума|Сферум-профил"
        r"|образовательн\w*\s+профил|аккаунт\w*\s+‹?Сферум"
    ),
}
SELF_NAMING = re.compile(r"(?i)\b(помощник\w*|бот\w*)\b")


def _without_quotations(text: str) -> str:
    """Drop «quoted phrases» (the real windows' words); keep one-word names like «Сферум»."""
    text = re.sub(r"«(\w+)»", r"‹\1›", text)
    previous = None
    while previous != text:
        previous, text = text, re.sub(r"«[^«»]*»", "«…»", text)
    return text


def _catalog() -> list[tuple[str, str]]:
    with RU.open("rb") as po:
        catalog = read_po(po, locale="ru")
    found = []
    for message in catalog:
        if not message.id:
            continue
        msgid = message.id if isinstance(message.id, str) else message.id[0]
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        found += [(msgid, text) for text in strings]
    return found


@pytest.mark.parametrize("rule", FORBIDDEN)
def test_no_forbidden_variant(rule: str) -> None:
    pattern = FORBIDDEN[rule]
    offending = [text for _msgid, text in _catalog() if pattern.search(_without_quotations(text))]
    assert offending == [], rule


def test_the_bot_never_names_itself() -> None:
    offending = [
        text
        for msgid, text in _catalog()
        if msgid not in MAY_NAME_THE_BOT and SELF_NAMING.search(_without_quotations(text))
    ]
    assert offending == []


def test_the_patronymic_rule_is_stated_once() -> None:
    stating = [text for _msgid, text in _catalog() if "отчеств" in text.lower()]
    assert len(stating) == 1, stating
    assert "если есть, отчество" in stating[0]


@pytest.mark.parametrize(
    ("text", "rule"),
    [
        ("Введите код из SMS.", "typed input is «Напишите»"),
        ("Мы отправили код.", "the bot is «я», never «мы»"),
        ("ФИО кириллицей.", "Cyrillic is «русскими буквами»"),
        ("Привяжем ваш профиль Сферум.", "«учебный профиль Сферум»"),
        ("Нет профиля Сферума.", "«учебный профиль Сферум»"),
    ],
)
def test_the_rules_catch_what_they_forbid(text: str, rule: str) -> None:
    assert FORBIDDEN[rule].search(_without_quotations(text))


def test_quotations_of_the_real_windows_are_exempt_but_names_are_not() -> None:
    assert not FORBIDDEN["typed input is «Напишите»"].search(
        _without_quotations("В окне VK ID это «Введите код».")
    )
    assert FORBIDDEN["«учебный профиль Сферум»"].search(
        _without_quotations("Это ваш профиль «Сферум».")
    )
    assert not FORBIDDEN["«учебный профиль Сферум»"].search("Ваш учебный профиль Сферум готов.")
