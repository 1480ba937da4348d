"""Bot API HTML → text + entities, exactly as Telegram parses it (and refuses it)."""

import pytest

from services.sandbox.botapi.entities import format_text, parse_html, utf16_len
from services.sandbox.botapi.errors import BotApiError


def test_nested_tags_become_entities_with_offsets():
    text, entities = parse_html("<b>Шаг <i>1</i></b> из 8")
    assert text == "Шаг 1 из 8"
    assert entities == [
        {"type": "italic", "offset": 4, "length": 1},
        {"type": "bold", "offset": 0, "length": 5},
    ]


def test_offsets_are_counted_in_utf16_code_units():
    text, entities = format_text("😀 <b>код</b>", "HTML")
    assert text == "😀 код"
    assert entities == [{"type": "bold", "offset": 3, "length": 3}]
    assert utf16_len("😀") == 2


def test_html_entities_are_decoded_and_only_known_names_count():
    text, _ = parse_html("&lt;b&gt; &amp; &quot;x&quot; &#8212; &#x41; &nbsp;")
    assert text == '<b> & "x" — A &nbsp;'


def test_links_pre_with_language_spoiler_and_blockquote():
    source = (
        '<a href="https://school.mos.ru">журнал</a> <pre><code class="language-python">x</code>'
        '</pre> <span class="tg-spoiler">s</span> <blockquote expandable>q</blockquote>'
    )
    text, entities = parse_html(source)
    assert text == "журнал x s q"
    assert {
        "type": "text_link",
        "url": "https://school.mos.ru",
        "offset": 0,
        "length": 6,
    } in entities
    assert {"type": "pre", "language": "python", "offset": 7, "length": 1} in entities
    assert {"type": "spoiler", "offset": 9, "length": 1} in entities
    assert {"type": "expandable_blockquote", "offset": 11, "length": 1} in entities


@pytest.mark.parametrize(
    ("source", "reason"),
    [
        ("a<br>b", 'Unsupported start tag "br" at byte offset 1'),
        ("<b>жирный", 'Can\'t find end tag corresponding to start tag "b"'),
        ("<b>x</i>", 'Unmatched end tag at byte offset 4, expected "</b>", found "</i>"'),
        ("2 < 3", "Unexpected end of name token at byte offset 2"),
        ('<span class="x">a</span>', 'Tag "span" must have class "tg-spoiler"'),
    ],
)
def test_what_telegram_refuses_is_refused_with_its_words(source, reason):
    with pytest.raises(BotApiError) as refused:
        format_text(source, "HTML")
    assert refused.value.error_code == 400
    assert refused.value.description.startswith("Bad Request: can't parse entities: ")
    assert reason in refused.value.description


def test_surrounding_whitespace_is_trimmed_and_entities_follow():
    text, entities = format_text("\n  <b>Привет</b>  \n", "HTML")
    assert text == "Привет"
    assert entities == [{"type": "bold", "offset": 0, "length": 6}]


def test_urls_commands_and_emails_are_detected_outside_code():
    text, entities = format_text(
        "/start abc, see https://t.me/x or a@b.ru <code>/help</code>", "HTML"
    )
    kinds = {(e["type"], text[e["offset"] : e["offset"] + e["length"]]) for e in entities}
    assert ("bot_command", "/start") in kinds
    assert ("url", "https://t.me/x") in kinds
    assert ("email", "a@b.ru") in kinds
    assert ("bot_command", "/help") not in kinds
    assert ("code", "/help") in kinds


def test_bare_addresses_are_links_as_in_telegram():
    text, entities = format_text(
        "Откройте web.vk.me, school.mos.ru/journal или сайт.рф. Почта ka***@mail.ru, "
        "файл ошибка.png, М.П. Иванова, версия 1.2.3",
        None,
    )
    found = [(e["type"], text[e["offset"] : e["offset"] + e["length"]]) for e in entities]
    assert found == [
        ("url", "web.vk.me"),
        ("url", "school.mos.ru/journal"),
        ("url", "сайт.рф"),
    ]


def test_other_parse_modes_are_refused_instead_of_misrendered():
    with pytest.raises(BotApiError, match="unsupported parse_mode"):
        format_text("*x*", "MarkdownV2")


def test_explicit_entities_are_validated():
    _, entities = format_text("abc", None, [{"type": "bold", "offset": 0, "length": 2}])
    assert entities == [{"type": "bold", "offset": 0, "length": 2}]
    with pytest.raises(BotApiError):
        format_text("abc", None, [{"type": "bold", "offset": -1, "length": 2}])
