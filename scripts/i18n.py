"""Catalog maintenance: extract strings from bot/, update ru/en catalogs, fill translations, check.

    python scripts/i18n.py update                 # extract + merge into both catalogs
    python scripts/i18n.py fill ru strings.json   # {"msgid": "перевод", "msgid2": ["форма1", ...]}
    python scripts/i18n.py check                  # exit 1 on any missing or fuzzy entry

Every command takes a file lock, so several people (or helpers) may run it at the same time.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

from babel.messages.pofile import read_po, write_po

ROOT = Path(__file__).resolve().parent.parent
LOCALES = ROOT / "bot" / "locales"
TEMPLATE = LOCALES / "messages.pot"
LANGUAGES = ("ru", "en")
KEYWORDS = ("I18nFormat", "I18nConst", "__", "_", "gettext", "ngettext:1,2", "lazy_gettext")


def _pybabel(*args: str) -> None:
    subprocess.run([sys.executable, "-m", "babel.messages.frontend", *args], check=True, cwd=ROOT)


@contextlib.contextmanager
def _locked() -> Iterator[None]:
    LOCALES.mkdir(parents=True, exist_ok=True)
    with (LOCALES / ".lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def _po_path(lang: str) -> Path:
    return LOCALES / lang / "LC_MESSAGES" / "messages.po"


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
    for lang in LANGUAGES:
        if _po_path(lang).exists():
            _pybabel(
                "update",
                "--no-fuzzy-matching",
                "--ignore-obsolete",
                "--omit-header",
                "-i",
                str(TEMPLATE),
                "-d",
                str(LOCALES),
                "-D",
                "messages",
                "-l",
                lang,
            )
        else:
            _pybabel("init", "-i", str(TEMPLATE), "-d", str(LOCALES), "-D", "messages", "-l", lang)


def fill(lang: str, translations: dict[str, str | list[str]]) -> int:
    """Set msgstr for the given msgids; returns how many were unknown (not in the catalog)."""
    path = _po_path(lang)
    with path.open("rb") as po_file:
        catalog = read_po(po_file, locale=lang)
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
    with path.open("wb") as po_file:
        write_po(po_file, catalog, omit_header=False, sort_output=True, include_previous=False)
    return unknown


def problems() -> list[str]:
    """Every missing, empty or fuzzy translation, as readable lines."""
    found: list[str] = []
    for lang in LANGUAGES:
        with _po_path(lang).open("rb") as po_file:
            catalog = read_po(po_file, locale=lang)
        for message in catalog:
            if not message.id:
                continue
            strings = message.string if isinstance(message.string, tuple) else (message.string,)
            if message.fuzzy:
                found.append(f"{lang}: fuzzy: {message.id!r}")
            elif not all(strings):
                found.append(f"{lang}: untranslated: {message.id!r}")
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
