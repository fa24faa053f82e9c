"""HEAD answers like GET, without a body: monitors and link checkers use it."""

import pytest

from tests.factories import make_finished_scan

MEMBER_PAGES = [
    "/",
    "/categories/devops/",
    "/accounts/workspace/",
    "/api/categories/",
    "/api/categories/devops/",
    "/api/health/",
    "/search/?q=gitlab",
    "/api/search/?q=gitlab",
]
OPEN_PAGES = ["/accounts/login/", "/accounts/signed-out/", "/healthz", "/readyz", "/metrics"]


# Different on every response, whatever the method (never_cache's Expires is the time now).
PER_RESPONSE = {"X-Request-ID", "Expires"}
# Figures measured afresh on each call (latencies, request counts), so their length moves.
LIVE_FIGURES = {"/readyz", "/metrics"}


def headers_of(response, url) -> dict:
    varying = PER_RESPONSE | ({"Content-Length"} if url in LIVE_FIGURES else set())
    return {name: value for name, value in response.headers.items() if name not in varying}


def same_answer(client, url, **headers):
    got = client.get(url, **headers)
    head = client.head(url, **headers)
    assert head.status_code == got.status_code != 405, url
    assert head.content == b"", url
    assert headers_of(head, url) == headers_of(got, url), url
    return got


@pytest.mark.parametrize("url", MEMBER_PAGES)
def test_a_member_page_answers_head_like_get(catalog, bob_client, url):
    make_finished_scan()
    assert same_answer(bob_client, url).status_code == 200
    assert same_answer(bob_client, url, HTTP_ACCEPT_ENCODING="gzip").status_code == 200


@pytest.mark.parametrize("url", OPEN_PAGES)
def test_an_open_page_answers_head_like_get(db, client, url):
    assert same_answer(client, url).status_code == 200


@pytest.mark.parametrize("url", MEMBER_PAGES)
def test_head_is_refused_or_redirected_as_get_is(catalog, client, carol, url):
    same_answer(client, url)
    client.force_login(carol)
    assert same_answer(client, url).status_code == 403
