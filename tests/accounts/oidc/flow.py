"""Drive the browser half of a sign-in: the provider's login form, over real HTTP."""

import html
import re
from urllib.parse import urljoin, urlsplit

import httpx


def provider_login(
    auth_url: str,
    username: str,
    password: str,
    *,
    stop_at: str,
    browser: httpx.Client | None = None,
) -> tuple[str, httpx.Client]:
    """Open Keycloak's login page, submit the form, and follow the provider's redirects until
    they leave for `stop_at` (the portal). Returns that URL and the provider-side browser."""
    browser = browser or httpx.Client(timeout=10)
    response = browser.get(auth_url)
    while response.is_redirect:
        location = urljoin(str(response.url), response.headers["location"])
        if location.startswith(stop_at):
            return location, browser
        response = browser.get(location)
    assert response.status_code == 200, response.text
    action = html.unescape(
        re.search(r'<form id="kc-form-login" method="post" action="([^"]+)"', response.text)[1]
    )
    response = browser.post(
        urljoin(str(response.url), action), data={"username": username, "password": password}
    )
    while response.is_redirect:
        location = urljoin(str(response.url), response.headers["location"])
        if location.startswith(stop_at):
            return location, browser
        response = browser.get(location)
    raise AssertionError(
        f"the provider did not send us back: {response.status_code} {response.text}"
    )


def sign_in(client, username: str, password: str | None = None, *, next_url: str = "/"):
    """A whole code flow with PKCE: the Django test client starts and finishes it, httpx plays
    the browser at the provider. Returns the callback's response and the provider browser."""
    start = client.get("/oidc/authenticate/", {"next": next_url})
    assert start.status_code == 302, start
    callback, browser = provider_login(
        start["Location"], username, password or username, stop_at="http://testserver/"
    )
    parts = urlsplit(callback)
    return client.get(f"{parts.path}?{parts.query}"), browser
