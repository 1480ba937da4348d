"""Render the bot's pictures: bot/assets/pictures/*.svg → *.png next to them.

    .venv/bin/python scripts/render_pictures.py          # all pictures
    .venv/bin/python scripts/render_pictures.py --check  # exit 1 if a PNG is older than its SVG

The PNGs are committed, so the bot needs no renderer at runtime; run this after editing an SVG.
It drives Debian's Chromium (/usr/bin/chromium) through Playwright, as the browser test does:
the SVG is shown alone on a page of its own size and that element is photographed at 1.5× (sharp
on phones, still small files). Fonts: Liberation Sans / DejaVu Sans (Debian's fonts-liberation,
fonts-dejavu), named in each SVG.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PICTURES = ROOT / "bot" / "assets" / "pictures"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SCALE = 1.5


def stale() -> list[Path]:
    """SVGs whose PNG is missing or older than the SVG."""
    return [
        svg
        for svg in sorted(PICTURES.glob("*.svg"))
        if not svg.with_suffix(".png").exists()
        or svg.with_suffix(".png").stat().st_mtime < svg.stat().st_mtime
    ]


async def render(svgs: list[Path]) -> None:
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = await browser.new_page(device_scale_factor=SCALE)
        for svg in svgs:
            html = (
                "<!doctype html><html><body style='margin:0;background:transparent'>"
                f"{svg.read_text(encoding='utf-8')}</body></html>"
            )
            await page.set_content(html)
            png = svg.with_suffix(".png")
            await page.locator("svg").first.screenshot(path=str(png))
            print(f"{png.relative_to(ROOT)}: {png.stat().st_size // 1024} KiB")
        await browser.close()


def main(argv: list[str]) -> int:
    if "--check" in argv:
        outdated = stale()
        for svg in outdated:
            print(f"not rendered: {svg.relative_to(ROOT)}")
        return 1 if outdated else 0
    asyncio.run(render(sorted(PICTURES.glob("*.svg"))))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
