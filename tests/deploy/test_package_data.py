"""A regular (non-editable) install carries every file the bot reads at run time."""

from __future__ import annotations

import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def package_data_globs(package: str) -> list[str]:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    return config["tool"]["setuptools"]["package-data"][package]


def test_every_picture_and_catalog_of_the_bot_is_package_data() -> None:
    package = ROOT / "bot"
    shipped = {path for glob in package_data_globs("bot") for path in package.glob(glob)}
    needed = {*package.glob("assets/**/*.png"), *package.glob("locales/**/*.po")}
    assert needed, "the bot has pictures and catalogs"
    assert needed <= shipped, sorted(str(p.relative_to(ROOT)) for p in needed - shipped)
