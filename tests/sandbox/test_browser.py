"""Scenario A in headless Chromium: a person clicks and types through the sandbox page.

Needs Debian's chromium (/usr/bin/chromium) and Playwright for Python; Playwright's own browser
download is not used. The consent step is saved to test-artifacts/sandbox-consent.png; with
UPDATE_README_SCREENSHOT=1 it also replaces docs/sandbox.png (the README's picture).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.config import Settings
from services.sandbox.botapi.entities import format_text
from services.sandbox.runner import start_sandbox
from tests.sandbox.live import Live, live_sandbox

pytestmark = pytest.mark.browser

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    # Without these Chromium phones home and this machine's closed network refuses it.
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts"
README_SCREENSHOT = ROOT / "docs" / "sandbox.png"
STEP_MS = 15_000
HAS_CHROMIUM = Path(CHROMIUM).exists()


@pytest.fixture
async def live() -> AsyncIterator[Live]:
    async with live_sandbox() as running:
        yield running


@pytest.fixture
async def page():
    if not HAS_CHROMIUM:
        pytest.skip("Debian's chromium is not installed")
    playwright_api = pytest.importorskip("playwright.async_api")
    async with playwright_api.async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        context = await browser.new_context(viewport={"width": 1280, "height": 860}, locale="ru-RU")
        page = await context.new_page()
        page.set_default_timeout(STEP_MS)
        errors: list[str] = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        yield page
        await browser.close()
        assert errors == [], f"the page raised: {errors}"


class Person:
    """Clicks and types in the page; before each action waits, as a reader would, for the bot
    to finish the previous update (see live.UpdateTracker)."""

    def __init__(self, page, live: Live):
        self.page = page
        self.live = live

    async def press(self, label: str) -> None:
        """Tap the newest inline button with this label."""
        button = self.page.locator(".inline-kb button", has_text=label).last
        await button.wait_for()
        await self.live.bot_idle()
        await button.click()

    async def type_and_send(self, text: str) -> None:
        await self.live.bot_idle()
        await self.page.fill("#chat-input", text)
        await self.page.press("#chat-input", "Enter")

    async def sees(self, fragment: str) -> None:
        await self.page.locator(".msg.in .bubble", has_text=fragment).last.wait_for()


async def test_teacher_completes_scenario_a_in_the_browser(live: Live, page):
    person = Person(page, live)
    teacher = next(t for t in live.sandbox.cast.teachers if t.case == "vkid_no_profile")
    await page.goto(live.sandbox.url)

    # MESH e-journal, steps 1–2: messenger icon, then «Перейти к подключению».
    card = page.locator(f'.teacher[data-mesh="{teacher.mesh_account_id}"]')
    await card.locator("button.messenger").click()
    await page.get_by_text("Мессенджер не подключен").wait_for()
    await page.get_by_role("button", name="Перейти к подключению").click()

    await person.press("Начнём")
    await person.press("VPN выключен")
    await person.press("Нет")
    await page.locator(".reply-keyboard button.contact").wait_for()
    await live.bot_idle()
    await page.locator(".reply-keyboard button.contact").click()
    await person.press("Создать учебный профиль")
    await person.sees("Пароль от VK ID")
    await person.type_and_send(teacher.vk_password)
    await person.sees("Подтвердите вход")

    # The phone pane beside the chat shows the call-reset; its last 4 digits are the code.
    call = page.locator('#phone-feed li[data-channel="call"] .code').first
    await call.wait_for()
    await person.type_and_send((await call.text_content()).strip())

    await person.sees("ФИО")
    await person.type_and_send(teacher.full_name)
    await person.sees("дату рождения")
    await person.type_and_send("14.03.1985")
    await person.press("Мужской")
    await person.press("Всё верно")
    await person.sees("Добавление профиля Сферум")
    await page.locator(".inline-kb button", has_text="Привязать").last.wait_for()

    ARTIFACTS.mkdir(exist_ok=True)
    consent_shot = ARTIFACTS / "sandbox-consent.png"
    await page.screenshot(path=str(consent_shot))
    assert consent_shot.stat().st_size > 10_000
    if os.environ.get("UPDATE_README_SCREENSHOT"):  # a tracked file: refreshed only on request
        shutil.copyfile(consent_shot, README_SCREENSHOT)

    await person.press("Привязать")
    await person.sees("успешно привязан")
    # The password message was deleted from the chat, as in Telegram.
    assert await page.locator(".msg.out .bubble", has_text=teacher.vk_password).count() == 0


async def test_page_renders_bot_html_safely(page):
    """Only Telegram's formatting becomes markup; anything else the bot sends stays text."""
    async with start_sandbox(Settings(_env_file=None, sandbox_port=0)) as sandbox:
        world = sandbox.world
        teacher = sandbox.cast.teachers[0]
        world.user_sends_text(teacher.user_id, "/start")
        chat = world.chats[teacher.user_id]
        text, entities = format_text(
            '&lt;img src=x onerror="window.pwned=1"&gt; <b>жирный</b> '
            '<a href="javascript:window.pwned=1">ссылка</a> <a href="https://school.mos.ru">МЭШ</a>',
            "HTML",
        )
        world.store_message(chat, world.bot, {"text": text, "entities": entities})
        await page.goto(f"{sandbox.url}/#chat")
        await page.select_option("#teacher-select", str(teacher.user_id))
        bubble = page.locator(".msg.in .bubble").last
        await bubble.wait_for()
        assert "<img src=x" in await bubble.inner_text()
        assert await bubble.locator("img").count() == 0
        assert await bubble.locator("b").inner_text() == "жирный"
        assert await bubble.locator("a", has_text="ссылка").count() == 0  # no javascript: link
        link = bubble.locator("a", has_text="МЭШ")
        assert await link.get_attribute("href") == "https://school.mos.ru/"
        assert await link.get_attribute("rel") == "noopener noreferrer"
        assert await page.evaluate("window.pwned") is None
