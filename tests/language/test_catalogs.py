"""Both catalogs are complete: every string in the code is there, translated, not fuzzy."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parents[2]


def _i18n_script():
    spec = importlib.util.spec_from_file_location("i18n_script", ROOT / "scripts" / "i18n.py")
    module = importlib.util.module_from_spec(spec)
    assert spec.loader is not None
    spec.loader.exec_module(module)
    return module


def _msgid(message) -> str:
    return message.id if isinstance(message.id, str) else message.id[0]


def test_every_catalog_entry_is_translated_and_not_fuzzy() -> None:
    assert _i18n_script().problems() == []


def test_every_string_in_the_code_is_in_both_catalogs(tmp_path: Path) -> None:
    script = _i18n_script()
    keywords = [arg for keyword in script.KEYWORDS for arg in ("-k", keyword)]
    pot = tmp_path / "extracted.pot"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "babel.messages.frontend",
            "extract",
            "--no-location",
            "--omit-header",
            *keywords,
            "-o",
            str(pot),
            "bot",
        ],
        check=True,
        cwd=ROOT,
        capture_output=True,
    )
    with pot.open("rb") as file:
        in_code = {_msgid(m) for m in read_po(file) if m.id}
    assert in_code, "extraction found nothing"
    for lang in script.LANGUAGES:
        with script._po_path(lang).open("rb") as file:
            in_catalog = {_msgid(m) for m in read_po(file, locale=lang) if m.id}
        assert sorted(in_code - in_catalog) == [], f"missing in {lang}"


def test_russian_plural_forms_are_three() -> None:
    with (ROOT / "bot/locales/ru/LC_MESSAGES/messages.po").open("rb") as file:
        catalog = read_po(file, locale="ru")
    assert catalog.num_plurals == 3


def _catalog_from(text: str, lang: str):
    import io

    return read_po(io.BytesIO(text.encode()), locale=lang)


HEADERLESS = 'msgid "Hello"\nmsgstr "Привет"\n\nmsgid "Bye"\nmsgstr "Пока"\n'


def test_a_merge_gives_a_headerless_catalog_a_header_that_msgfmt_accepts(tmp_path: Path) -> None:
    import io
    import shutil

    from babel.messages.catalog import Catalog
    from babel.messages.pofile import write_po

    script = _i18n_script()
    template = Catalog()
    template.add("Hello")
    template.add("New")
    merged = script.merge(template, _catalog_from(HEADERLESS, "ru"), "ru")

    assert [m.id for m in merged if m.id] == ["Hello", "New"]  # "Bye" is gone, "New" came
    assert merged.get("Hello").string == "Привет"
    assert script._header_problems("ru", merged) == []
    headers = dict(merged.mime_headers)
    assert headers["Language"] == "ru" and headers["Plural-Forms"].startswith("nplurals=3")
    if shutil.which("msgfmt"):
        merged.get("New").string = "Новое"
        out = io.BytesIO()
        write_po(out, merged, omit_header=False)
        po = tmp_path / "ru.po"
        po.write_bytes(out.getvalue())
        run = subprocess.run(
            ["msgfmt", "-c", "-o", "/dev/null", str(po)], capture_output=True, text=True
        )
        assert run.returncode == 0 and run.stderr == "", run.stderr


def test_a_second_merge_changes_nothing() -> None:
    import io

    from babel.messages.catalog import Catalog
    from babel.messages.pofile import write_po

    script = _i18n_script()
    template = Catalog()
    template.add("Hello")

    def written(catalog) -> bytes:
        out = io.BytesIO()
        write_po(out, catalog, omit_header=False)
        return out.getvalue()

    once = written(script.merge(template, _catalog_from(HEADERLESS, "ru"), "ru"))
    twice = written(script.merge(template, _catalog_from(once.decode(), "ru"), "ru"))
    assert once == twice


def test_the_check_finds_a_lost_header_and_a_wrong_placeholder() -> None:
    script = _i18n_script()
    broken = _catalog_from(
        "#, python-brace-format\n"
        'msgid "Wait {wait}"\nmsgstr "Подождите {time}"\n\n'
        'msgid "Fine"\nmsgstr "Хорошо"\n',
        "ru",
    )
    assert any("Project-Id-Version" in line for line in script._header_problems("ru", broken))
    assert script._message_problems("ru", broken) == [
        "ru: placeholders ['time', 'wait']: 'Wait {wait}'"
    ]
