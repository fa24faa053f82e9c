"""Headless Chromium for browser tests: Debian's build, driven by Playwright."""

import shutil
from contextlib import contextmanager
from functools import cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = ROOT / "artifacts" / "screenshots"
# axe-core from npm (devtools/browser-tests, installed by bin/test) and the rules it checks.
AXE = ROOT / "devtools" / "browser-tests" / "node_modules" / "axe-core" / "axe.min.js"
WCAG_21_A_AA = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
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


def top_bar_is_one_row(page) -> bool:
    """Whether the top bar is as tall as one row: its brand, and padding."""
    bar = page.locator(".topbar").bounding_box()
    return bar["height"] < page.locator(".brand").bounding_box()["height"] * 2


@cache
def _axe_source() -> str:
    if not AXE.exists():
        pytest.fail("axe-core is missing: bin/test installs it (npm ci in devtools/browser-tests).")
    return AXE.read_text()


def accessibility_violations(page) -> list[str]:
    """What axe-core finds against WCAG 2.1 A and AA in the page as it is drawn now, one
    line per rule and element: `rule (impact): element: what is wrong`."""
    # Run through the DevTools protocol, which the page's Content-Security-Policy does not
    # govern: page.add_script_tag would add an inline script, and the policy refuses those.
    if not page.evaluate("typeof window.axe === 'object'"):
        page.evaluate(_axe_source())
    return page.evaluate(
        """tags => axe.run(document, {runOnly: {type: "tag", values: tags}}).then(result =>
            result.violations.flatMap(rule => rule.nodes.map(node =>
                `${rule.id} (${rule.impact}): ${node.target.join(" ")}: ${rule.help}`)))""",
        WCAG_21_A_AA,
    )


def sign_in_at_provider(page, username: str, password: str) -> None:
    """Keycloak's login form (the dev provider draws the same): what a person fills in."""
    page.wait_for_selector("#kc-form-login")
    page.fill("#username", username)
    page.fill("#password", password)
    page.click("#kc-login")
