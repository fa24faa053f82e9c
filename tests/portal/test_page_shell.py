"""The top bar and the overview's frame are rendered once per language and kind of reader
(portal/shell.py, portal/pages.py); what is each reader's own is put in per response."""

import gzip
import re

import pytest
from django.test import Client

from portal.models import CatalogRevision, Service
from tests.factories import client_for
from tests.portal.test_overview_queries import OVERVIEW_QUERIES_WARM

WORKSPACE_LINK = 'href="/accounts/workspace/"'
ADMIN_LINK = 'href="/admin/"'
TOKEN = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')


def top_bar(html: str) -> str:
    return html[html.index('<header class="topbar">') : html.index("</header>")]


@pytest.mark.parametrize("url", ["/", "/categories/devops/"])
def test_each_reader_sees_their_own_name_and_links(catalog, bob_client, sam, url):
    bob_bar = top_bar(bob_client.get(url).text)
    sam_bar = top_bar(client_for(sam).get(url).text)
    assert '<span class="who">bob</span>' in bob_bar
    assert '<span class="who">sam</span>' in sam_bar
    assert WORKSPACE_LINK in bob_bar and WORKSPACE_LINK in sam_bar
    assert ADMIN_LINK not in bob_bar
    assert ADMIN_LINK in sam_bar


@pytest.mark.parametrize(("url", "current"), [("/", None), ("/categories/devops/", "devops")])
def test_the_top_bar_links_every_category(catalog, bob_client, url, current):
    nav = top_bar(bob_client.get(url).text)
    nav = nav[nav.index('<nav class="topnav"') : nav.index("</nav>")]
    assert 'href="/categories/devops/"' in nav
    assert 'href="/categories/identity-access/"' in nav
    marked = re.findall(r'href="/categories/([^/]+)/" aria-current="page"', nav)
    assert marked == ([current] if current else [])


def category_links(html: str) -> list[str]:
    bar = top_bar(html)
    return re.findall(r'href="/categories/([^/]+)/"', bar[bar.index('<nav class="topnav"') :])


def test_pages_outside_the_catalog_link_every_category_too(catalog, bob_client):
    page = bob_client.get("/accounts/workspace/").text
    assert category_links(page) == ["devops", "identity-access"]
    assert 'aria-current="page"' not in top_bar(page)


@pytest.mark.parametrize("member", ["carol", "dave", "erin"])
def test_members_not_let_in_get_no_category_links(catalog, request, member):
    # The waiting page keeps its top bar, but the categories are not theirs to open.
    page = client_for(request.getfixturevalue(member)).get("/").text
    assert 'class="panel membership-state"' in page
    assert category_links(page) == []


def test_a_pending_member_gets_no_workspace_link(catalog, carol):
    bar = top_bar(client_for(carol).get("/categories/devops/").text)
    assert '<span class="who">carol</span>' in bar
    assert WORKSPACE_LINK not in bar


def test_the_readers_name_is_escaped(catalog, django_user_model):
    # Keycloak's preferred_username is not held to Django's username characters.
    user = django_user_model.objects.create_user(
        username='eve<script>"x"', password="x", membership="approved"
    )
    bar = top_bar(client_for(user).get("/categories/devops/").text)
    assert "<script>" not in bar
    assert "eve&lt;script&gt;&quot;x&quot;" in bar


def test_every_response_carries_a_fresh_token_that_signs_out(catalog, bob):
    client = Client(enforce_csrf_checks=True)
    client.force_login(bob)
    first = TOKEN.findall(client.get("/categories/devops/").text)
    second = TOKEN.findall(client.get("/categories/devops/").text)
    # One masked token per response, in both forms (language switch, sign-out).
    assert len(first) == 2 and first[0] == first[1]
    assert first[0] != second[0]
    response = client.post("/accounts/logout/", {"csrfmiddlewaretoken": first[0]})
    assert response.status_code == 302
    assert client.get("/categories/devops/").status_code == 302  # signed out


def test_the_language_switch_returns_to_the_page_and_query(catalog, bob_client):
    bar = top_bar(bob_client.get("/categories/devops/?tab=1&view=map").text)
    assert 'name="next" type="hidden" value="/categories/devops/?tab=1&amp;view=map"' in bar


def test_the_frame_follows_the_readers_language(catalog, bob_client):
    korean = bob_client.get("/categories/devops/").text
    bob_client.cookies["django_language"] = "en"
    english = bob_client.get("/categories/devops/").text
    assert korean.startswith('<!doctype html>\n<html lang="ko">')
    assert english.startswith('<!doctype html>\n<html lang="en">')
    assert "<title>DevOps Guide · AIXOps</title>" in english
    assert "Sign out" in top_bar(english) and "로그아웃" in top_bar(korean)


def test_a_catalog_rebuilt_to_the_same_revision_number_is_not_served_from_memory(
    catalog, bob_client
):
    assert "파이프라인 기반 빌드/배포 자동화 서버" in bob_client.get("/categories/devops/").text
    number = CatalogRevision.current().number
    # As after a restore or a rebuilt database: other rows, the same revision number.
    Service.objects.filter(slug="jenkins").update(summary="Declarative pipelines")
    CatalogRevision.bump()
    CatalogRevision.objects.update(number=number)
    assert CatalogRevision.current().number == number
    page = bob_client.get("/categories/devops/").text
    assert "Declarative pipelines" in page


BROWSER = {"Accept-Encoding": "gzip, deflate, br, zstd"}


@pytest.mark.parametrize("url", ["/", "/categories/devops/"])
def test_browsers_get_the_page_gzipped_with_their_own_top_bar(catalog, bob_client, url):
    plain = bob_client.get(url)
    packed = bob_client.get(url, headers=BROWSER)
    assert "Content-Encoding" not in plain
    assert packed["Content-Encoding"] == "gzip"
    for response in (plain, packed):
        assert "Accept-Encoding" in response["Vary"]  # shared caches keep both apart
        assert int(response["Content-Length"]) == len(response.content)

    html = gzip.decompress(packed.content).decode()  # checks the CRC and the length
    token = TOKEN.findall(html)[0]
    assert html == TOKEN.sub(f'name="csrfmiddlewaretoken" value="{token}"', plain.text)
    assert '<span class="who">bob</span>' in top_bar(html)
    # The top bar travels uncompressed: its token is never compressed with anything.
    assert top_bar(html).encode() in packed.content
    shared = len(plain.content) - len(top_bar(plain.text).encode())
    assert len(packed.content) < len(top_bar(html).encode()) + shared / 2


def test_gzip_follows_the_reader_and_the_language(catalog, bob_client, sam):
    sam_client = client_for(sam)
    sam_client.cookies["django_language"] = "en"
    bob_html = gzip.decompress(bob_client.get("/categories/devops/", headers=BROWSER).content)
    sam_html = gzip.decompress(sam_client.get("/categories/devops/", headers=BROWSER).content)
    assert bob_html.startswith(b'<!doctype html>\n<html lang="ko">')
    assert sam_html.startswith(b'<!doctype html>\n<html lang="en">')
    assert b'<span class="who">sam</span>' in sam_html and ADMIN_LINK.encode() in sam_html
    assert ADMIN_LINK.encode() not in bob_html


def test_a_client_refusing_gzip_gets_the_page_as_it_is(catalog, bob_client):
    response = bob_client.get("/categories/devops/", headers={"Accept-Encoding": "gzip;q=0"})
    assert "Content-Encoding" not in response
    assert response.text.startswith("<!doctype html>")


def test_a_gzipped_page_costs_no_more_queries(catalog, bob_client, django_assert_num_queries):
    bob_client.get("/categories/devops/")
    with django_assert_num_queries(OVERVIEW_QUERIES_WARM):
        response = bob_client.get("/categories/devops/", headers=BROWSER)
    assert response["Content-Encoding"] == "gzip"
