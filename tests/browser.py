"""Headless Chromium for browser tests: Debian's build, driven by Playwright."""

import shutil
from contextlib import contextmanager
from pathlib import Path

import pytest

ARTIFACTS = Path(__file__).resolve().parent.parent / "artifacts" / "screenshots"
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]


@contextmanager
def chromium():
    """A browser, closed afterwards. Playwright's own browser download cannot work here."""
    from playwright.sync_api import sync_playwright

    executable = shutil.which("chromium")
    if executable is None:
        pytest.fail("Chromium is missing: the README's test command installs it (apt chromium).")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_FLAGS)
        try:
            yield browser
        finally:
            browser.close()


def signed_in_context(browser, live_server, client, **context_options):
    """A browser context carrying the Django test client's session cookie."""
    context = browser.new_context(**context_options)
    session = client.cookies["sessionid"]
    context.add_cookies([{"name": "sessionid", "value": session.value, "url": live_server.url}])
    return context


def sideways_overflow(page) -> int:
    """How many pixels the page scrolls sideways (0 or less: it fits the viewport)."""
    return page.evaluate(
        "document.documentElement.scrollWidth - document.documentElement.clientWidth"
    )


def sign_in_at_provider(page, username: str, password: str) -> None:
    """Keycloak's login form (the dev provider draws the same): what a person fills in."""
    page.wait_for_selector("#kc-form-login")
    page.fill("#username", username)
    page.fill("#password", password)
    page.click("#kc-login")
