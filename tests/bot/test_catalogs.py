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
