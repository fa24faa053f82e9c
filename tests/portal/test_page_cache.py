"""Catalog pages: their catalog part is rendered once per revision, scan, language, time
zone and kind of reader, and cached (portal/pages.py); each response wraps it in the base
template with the reader's own top bar (aixops/templates/aixops/_top_bar.html)."""

import re

import pytest
from django.test import Client
from django.test.signals import template_rendered

from portal import pages
from portal.models import CatalogRevision, Category, Pin, Service
from portal.pages import page_state
from tests.factories import client_for

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
    assert category_links(page) == ["devops", "identity-access", "workspaces"]
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
    # Masked anew on each response: in the top bar's forms (language switch, sign-out),
    # and in the one form the cached part's buttons post (outside that part).
    assert len(first) == 3
    assert first[0] == first[1] == first[2]
    assert not set(first) & set(second)
    response = client.post("/accounts/logout/", {"csrfmiddlewaretoken": first[0]})
    assert response.status_code == 302
    assert client.get("/categories/devops/").status_code == 302  # signed out


def test_the_language_switch_returns_to_the_page_and_query(catalog, bob_client):
    bar = top_bar(bob_client.get("/categories/devops/?tab=1&view=map").text)
    assert 'name="next" type="hidden" value="/categories/devops/?tab=1&amp;view=map"' in bar


def test_the_top_bars_shared_parts_follow_each_page_and_the_catalog(catalog, bob_client, carol):
    # The top bar's links and tools are rendered once per kind of reader and page
    # (the "fragments" cache); what is a request's own is filled in every time.
    devops = top_bar(bob_client.get("/categories/devops/?view=map").text)
    identity = top_bar(bob_client.get("/categories/identity-access/").text)
    assert 'value="/categories/devops/?view=map"' in devops
    assert 'value="/categories/identity-access/"' in identity
    assert 'href="/categories/devops/" aria-current="page"' in devops
    assert 'href="/categories/identity-access/" aria-current="page"' in identity
    assert TOKEN.findall(devops) != TOKEN.findall(identity)
    assert ">DevOps</a>" in top_bar(bob_client.get("/accounts/workspace/").text)
    Category.objects.filter(slug="devops").update(name="Build & Deploy")
    CatalogRevision.bump()
    assert ">Build &amp; Deploy</a>" in top_bar(bob_client.get("/accounts/workspace/").text)
    pending = top_bar(client_for(carol).get("/categories/devops/").text)
    assert '<span class="who">carol</span>' in pending and WORKSPACE_LINK not in pending


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
    number = page_state()[0].number
    # As after a restore or a rebuilt database: other rows, the same revision number.
    Service.objects.filter(slug="jenkins").update(summary="Declarative pipelines")
    CatalogRevision.bump()
    CatalogRevision.objects.update(number=number)
    assert page_state()[0].number == number
    page = bob_client.get("/categories/devops/").text
    assert "Declarative pipelines" in page


def test_the_catalog_part_is_cached_and_each_reader_gets_their_own_top_bar(
    catalog, bob_client, sam, django_assert_num_queries
):
    bob_client.get("/categories/devops/")
    sam_client = client_for(sam)
    sam_client.get("/categories/devops/")
    # Warm: the signed-in user, nothing else (the page state and the reader's pins, outside
    # the cached part, are cached too).
    with django_assert_num_queries(1):
        bob_page = bob_client.get("/categories/devops/").text
    assert '<span class="who">bob</span>' in top_bar(bob_page) and ADMIN_LINK not in bob_page
    with django_assert_num_queries(1):
        sam_page = sam_client.get("/categories/devops/").text
    assert '<span class="who">sam</span>' in top_bar(sam_page) and ADMIN_LINK in sam_page


@pytest.mark.parametrize("url", ["/", "/categories/devops/", "/status/"])
def test_a_page_says_its_length_in_bytes(catalog, bob_client, url):
    # The frame and the cached body are sent as they are, not joined: the length is set
    # by the page, and counts bytes (Korean takes three a character), not characters.
    response = bob_client.get(url)
    assert response["Content-Length"] == str(len(response.content))
    assert len(response.content) > len(response.text)
    assert response.text.startswith("<!doctype html>") and response.text.endswith("</html>\n")


def without_tokens(html: str) -> str:
    return TOKEN.sub('name="csrfmiddlewaretoken" value=""', html)


@pytest.mark.parametrize("url", ["/", "/categories/devops/?view=map", "/status/"])
@pytest.mark.parametrize("reader", ["bob", "sam"])
def test_the_frame_kept_for_a_kind_of_reader_is_the_one_the_template_renders(
    catalog, request, monkeypatch, url, reader
):
    # A page's frame is rendered once per kind of reader and filled in with what is the
    # request's own (portal.pages.kind_frame); with messages to show, it is rendered for
    # the request itself. The two are the same page.
    user = request.getfixturevalue(reader)
    Pin.objects.pin(user=user, slug="jenkins")
    client = client_for(user)
    kept = [client.get(url).text for _ in range(2)]
    monkeypatch.setattr(pages, "get_messages", lambda request: True)
    rendered = client.get(url).text
    assert without_tokens(kept[0]) == without_tokens(kept[1]) == without_tokens(rendered)
    assert f'<span class="who">{reader}</span>' in rendered


def test_readers_of_one_kind_share_a_frame_and_see_their_own_in_it(catalog, bob, django_user_model):
    # Members of no group are one kind of reader: one frame, each their own name, address,
    # token and pins in it.
    dana = django_user_model.objects.create_user(username="dana<&>", membership="approved")
    Pin.objects.pin(user=bob, slug="jenkins")
    Pin.objects.pin(user=dana, slug="gitlab")
    bob_page = client_for(bob).get("/categories/devops/").text
    dana_page = client_for(dana).get("/categories/devops/?view=map").text
    assert '<span class="who">bob</span>' in bob_page
    assert '<span class="who">dana&lt;&amp;&gt;</span>' in dana_page
    assert "dana" not in bob_page and '<span class="who">bob</span>' not in dana_page
    assert 'data-pinned="jenkins"' in bob_page and 'data-pinned="gitlab"' in dana_page
    assert 'value="/categories/devops/?view=map"' in dana_page
    assert 'value="/categories/devops/?view=map"' not in bob_page
    assert not set(TOKEN.findall(bob_page)) & set(TOKEN.findall(dana_page))


def test_messages_are_shown_in_the_frame_and_only_once(catalog, bob_client):
    page = bob_client.post("/pins/gitlab/pin/", {"next": "/categories/devops/"}, follow=True)
    assert page.text.count('<li class="message message-success" role="status">') == 1
    assert '<span class="who">bob</span>' in page.text
    assert '<ul class="messages">' not in bob_client.get("/categories/devops/").text


@pytest.mark.parametrize("url", ["/", "/categories/devops/", "/status/"])
def test_a_kind_of_readers_frame_is_rendered_once_then_kept(catalog, bob, bob_client, url):
    bob_client.get(url)
    rendered = []

    def note(sender, template, context, **kwargs):
        rendered.append(template.name)

    template_rendered.connect(note)
    try:
        # Another reader of bob's kind, on the same page: only the frame's slots are new.
        again = client_for(bob).get(url)
    finally:
        template_rendered.disconnect(note)
    assert again.status_code == 200
    assert "portal/page.html" not in rendered
