"""Catalog maintenance: extract strings from bot/, update ru/en catalogs, fill translations, check.

    python scripts/i18n.py update                 # extract + merge into both catalogs
    python scripts/i18n.py fill ru strings.json   # {"msgid": "перевод", "msgid2": ["форма1", ...]}
    python scripts/i18n.py check                  # exit 1 on any problem (see `problems`)

`update` merges with Babel's API rather than `pybabel update`, so that each catalog keeps its
header (language, plural forms, charset: what `msgfmt -c` checks) and no date changes on a
merge that changed nothing. Every command takes a file lock, so several people (or helpers) may
run it at the same time.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.pofile import read_po, write_po

ROOT = Path(__file__).resolve().parent.parent
LOCALES = ROOT / "bot" / "locales"
TEMPLATE = LOCALES / "messages.pot"
LANGUAGES = ("ru", "en")
KEYWORDS = ("I18nFormat", "I18nConst", "__", "_", "gettext", "ngettext:1,2", "lazy_gettext")

PROJECT = "sferum-link-assistant"
VERSION = "1.0"
TRANSLATOR = "Sferum link assistant maintainers"
TEAMS = {"ru": "Russian", "en": "English"}
# Header values `msgfmt -c` refuses as the template's unfilled defaults.
_DEFAULT_HEADERS = {
    "Project-Id-Version": ("PACKAGE VERSION", "PROJECT VERSION"),
    "Last-Translator": ("FULL NAME <EMAIL@ADDRESS>",),
    "Language-Team": ("LANGUAGE <LL@li.org>",),
}
_BRACE_FIELD = re.compile(r"(?<!\{)\{([a-zA-Z_][a-zA-Z0-9_]*)[^{}]*\}(?!\})")


def _pybabel(*args: str) -> None:
    run = subprocess.run(
        [sys.executable, "-m", "babel.messages.frontend", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    if run.returncode:  # its file-by-file chatter is shown only when it failed
        sys.stderr.write(run.stdout + run.stderr)
        raise SystemExit(run.returncode)


@contextlib.contextmanager
def _locked() -> Iterator[None]:
    LOCALES.mkdir(parents=True, exist_ok=True)
    with (LOCALES / ".lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def _po_path(lang: str) -> Path:
    return LOCALES / lang / "LC_MESSAGES" / "messages.po"


def _read(lang: str) -> Catalog:
    with _po_path(lang).open("rb") as po_file:
        return read_po(po_file, locale=lang)


def _with_header(catalog: Catalog, lang: str) -> Catalog:
    """The catalog's header filled in (project, translator, team); dates are kept as they are."""
    catalog.project = PROJECT
    catalog.version = VERSION
    catalog.last_translator = TRANSLATOR
    catalog.language_team = TEAMS.get(lang, lang)
    catalog.msgid_bugs_address = ""
    catalog.copyright_holder = PROJECT
    catalog.header_comment = f"# {TEAMS.get(lang, lang)} messages of the Sferum link assistant."
    catalog.fuzzy = False
    if not isinstance(catalog.revision_date, datetime):  # the template's placeholder text
        catalog.revision_date = catalog.creation_date
    return catalog


def _write(lang: str, catalog: Catalog) -> None:
    path = _po_path(lang)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as po_file:
        write_po(
            po_file,
            _with_header(catalog, lang),
            omit_header=False,
            sort_output=True,
            ignore_obsolete=True,
            include_previous=False,
        )


def update() -> None:
    keywords = [arg for keyword in KEYWORDS for arg in ("-k", keyword)]
    _pybabel(
        "extract",
        "--no-location",
        "--sort-output",
        "--omit-header",
        *keywords,
        "-o",
        str(TEMPLATE),
        "bot",
    )
    with TEMPLATE.open("rb") as pot_file:
        template = read_po(pot_file)
    for lang in LANGUAGES:
        existing = _read(lang) if _po_path(lang).exists() else None
        _write(lang, merge(template, existing, lang))


def merge(template: Catalog, existing: Catalog | None, lang: str) -> Catalog:
    """`existing` brought up to `template`: new strings added, gone ones dropped, no fuzzy
    guesses, its header kept (or made) and its dates unchanged."""
    catalog = existing if existing is not None else Catalog(locale=lang)
    created = catalog.creation_date if existing is not None else template.creation_date
    revised = catalog.revision_date if existing is not None else template.creation_date
    catalog.update(template, no_fuzzy_matching=True, update_header_comment=False)
    catalog.obsolete.clear()
    catalog.creation_date, catalog.revision_date = created, revised
    return _with_header(catalog, lang)


def fill(lang: str, translations: dict[str, str | list[str]]) -> int:
    """Set msgstr for the given msgids; returns how many were unknown (not in the catalog)."""
    catalog = _read(lang)
    unknown = 0
    for msgid, text in translations.items():
        message = next(
            (m for m in catalog if m.id == msgid or (isinstance(m.id, tuple) and m.id[0] == msgid)),
            None,
        )
        if message is None:
            unknown += 1
            print(f"not in catalog ({lang}): {msgid!r}", file=sys.stderr)
            continue
        message.string = tuple(text) if isinstance(text, list) else text
        message.flags.discard("fuzzy")
    _write(lang, catalog)
    return unknown


def _fields(text: str) -> set[str]:
    return set(_BRACE_FIELD.findall(text))


def _header_problems(lang: str, catalog: Catalog) -> list[str]:
    headers = dict(catalog.mime_headers)
    found = [
        f"{lang}: header {name} still has its template value {headers.get(name)!r}"
        for name, defaults in _DEFAULT_HEADERS.items()
        if headers.get(name) in (None, "", *defaults)
    ]
    if "charset=utf-8" not in headers.get("Content-Type", "").lower():
        found.append(f"{lang}: header Content-Type is not UTF-8")
    if headers.get("Language") != lang:
        found.append(f"{lang}: header Language is {headers.get('Language')!r}")
    return found


def _message_problems(lang: str, catalog: Catalog) -> list[str]:
    found: list[str] = []
    for message in catalog:
        if not message.id:
            continue
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        if message.fuzzy:
            found.append(f"{lang}: fuzzy: {message.id!r}")
        elif not all(strings):
            found.append(f"{lang}: untranslated: {message.id!r}")
        elif message.pluralizable and len(strings) != catalog.num_plurals:
            found.append(f"{lang}: {len(strings)} plural forms, not {catalog.num_plurals}")
        elif "python-brace-format" in message.flags:
            ids = message.id if isinstance(message.id, tuple) else (message.id,)
            expected = _fields(ids[-1])
            # A plural form may leave the number out («одна попытка»); nothing else may differ.
            for text in strings:
                extra = _fields(text) - expected
                missing = expected - _fields(text) - ({"n"} if message.pluralizable else set())
                if extra or missing:
                    found.append(f"{lang}: placeholders {sorted(extra | missing)}: {ids[0]!r}")
                    break
    return found


def _msgfmt_problems(lang: str) -> list[str]:
    """What GNU `msgfmt -c` says about the catalog (skipped where gettext is not installed)."""
    msgfmt = shutil.which("msgfmt")
    if msgfmt is None:
        return []
    run = subprocess.run(
        [msgfmt, "-c", "-o", "/dev/null", str(_po_path(lang))],
        capture_output=True,
        text=True,
        check=False,
    )
    lines = [line for line in run.stderr.splitlines() if line.strip()]
    return [f"{lang}: msgfmt -c: {line}" for line in lines] if run.returncode or lines else []


def problems() -> list[str]:
    """Every missing, empty or fuzzy translation, bad header, placeholder or plural mismatch,
    and whatever `msgfmt -c` reports, as readable lines."""
    found: list[str] = []
    for lang in LANGUAGES:
        catalog = _read(lang)
        found += _header_problems(lang, catalog)
        found += _message_problems(lang, catalog)
        found += _msgfmt_problems(lang)
    return found


def main(argv: list[str]) -> int:
    command = argv[0] if argv else "check"
    with _locked():
        if command == "update":
            update()
        elif command == "fill":
            update()
            return 1 if fill(argv[1], json.loads(Path(argv[2]).read_text("utf-8"))) else 0
        elif command == "check":
            lines = problems()
            print("\n".join(lines) or "catalogs complete")
            return 1 if lines else 0
        else:
            print(__doc__)
            return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
