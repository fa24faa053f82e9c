"""Search and quick launch: the top bar's search finds categories, services, data stores,
checklist items and notes by name or text, ranked names first, as the reader may see them;
the results page (/search/) and its JSON (/api/search/) answer alike."""

import re
import unicodedata

import pytest
from django.contrib.auth.models import Group

from portal.models import CatalogRevision, Category, ChecklistItem, ConfigNote, DataStore, Service
from portal.search import QUERY_MAX_LENGTH, build_index, normalized, search
from portal.visibility import Reader
from tests.factories import client_for, make_category

MEMBER = Reader(staff=False)
DEVOPS = "/platform/devops"


def full_width(text: str) -> str:
    return "".join(chr(ord(c) + 0xFEE0) if c != " " else c for c in text)


def names(query, *, reader=MEMBER, limit=20):
    return [
        entry.name
        for entry in search(query, reader=reader, index=build_index(), limit=limit).results
    ]


# --- Ranking ------------------------------------------------------------------------------


def test_a_name_ranks_before_a_summary_that_mentions_it(catalog):
    # GitLab is named GitLab; Keycloak, oauth2-proxy and others only mention it.
    found = names("gitlab")
    assert found[:4] == [
        "GitLab",  # the name itself
        "GitLab Runner",  # a name that starts with it
        "GitLab Internal PostgreSQL",  # data stores after services, among equals
        "GitLab Internal Redis",
    ]
    assert "Keycloak" in found[4:]


def test_ranks_run_exact_prefix_word_substring_slug_then_text(db):
    category = Category.objects.create(slug="tools", name="Tools", title="T", summary="s")
    for position, (slug, name, summary) in enumerate(
        [
            ("text-only", "Zulu", "speaks of the Harbor registry"),
            ("in-slug-harbor2", "Yankee", "nothing"),
            ("substring", "Darkharbor", "nothing"),
            ("word", "Cloud Harbor", "nothing"),
            ("prefix", "Harbor Proxy", "nothing"),
            ("exact", "Harbor", "nothing"),
        ]
    ):
        Service.objects.create(
            category=category, slug=slug, name=name, summary=summary, position=position
        )
    assert names("harbor") == [
        "Harbor",
        "Harbor Proxy",
        "Cloud Harbor",
        "Darkharbor",
        "Yankee",
        "Zulu",
    ]


def test_case_width_and_composition_do_not_matter(catalog):
    assert names("GITLAB RUNNER") == ["GitLab Runner"]
    assert names(full_width("gitlab runner")) == ["GitLab Runner"]
    # Korean typed as decomposed jamo (NFD, as macOS sends it) finds composed text.
    assert names(unicodedata.normalize("NFD", "파이프라인")) == names("파이프라인")


def test_korean_text_is_found_by_its_words(catalog):
    # Jenkins' summary: 파이프라인 기반 빌드/배포 자동화 서버.
    assert names("파이프라인")[0] == "Jenkins"
    assert names("배포 자동화")[0] == "Jenkins"


def test_every_word_of_a_query_may_match_anywhere(catalog):
    assert names("runner gitlab") == ["GitLab Runner"]


def test_checklist_items_and_notes_are_found_by_their_text(catalog):
    step = ChecklistItem.objects.get(category__slug="devops", position=1)
    note = ConfigNote.objects.filter(category__slug="devops").first()
    results = search(normalized(step.text)[:40], reader=MEMBER, index=build_index()).results
    assert (results[0].kind, results[0].place) == (
        "checklist_item",
        f"/categories/devops/#checklist-{step.position}",
    )
    assert "`" not in results[0].name  # the page's code marks are dropped
    results = search(note.text.replace("`", "")[:30], reader=MEMBER, index=build_index()).results
    assert (results[0].kind, results[0].place) == (
        "config_note",
        f"/categories/devops/#note-{note.position}",
    )


def test_a_service_opens_its_tool_and_the_rest_their_place(catalog):
    gitlab, runner, category, store = (
        search("gitlab", reader=MEMBER, index=build_index()).results[:2]
        + search("devops", reader=MEMBER, index=build_index()).results[:1]
        + [search("gitlab internal redis", reader=MEMBER, index=build_index()).results[0]]
    )
    assert (gitlab.opens, gitlab.place) == ("/gitlab", "/categories/devops/#service-gitlab")
    # GitLab Runner has no address of its own: its card.
    assert runner.opens == "/categories/devops/#service-gitlab-runner"
    assert (category.kind, category.opens) == ("category", "/categories/devops/")
    assert store.opens == "/categories/devops/#store-gitlab-redis"


def test_results_are_capped_with_the_total(db):
    make_category("big", services=60)
    found = search("service", reader=MEMBER, index=build_index(), limit=20)
    assert (len(found.results), found.total) == (20, 60)
    assert [entry.name for entry in found.results[:3]] == ["Service 0", "Service 1", "Service 2"]


# --- Bad input ----------------------------------------------------------------------------


@pytest.mark.parametrize("query", ["", "   ", "\t\n"])
def test_an_empty_query_finds_nothing(catalog, bob_client, query):
    assert names(query) == []
    page = bob_client.get("/search/", {"q": query})
    assert page.status_code == 200
    assert '<li class="search-result' not in page.content.decode()
    assert bob_client.get("/api/search/", {"q": query}).json() == {
        "query": query,
        "total": 0,
        "results": [],
    }


def test_a_query_too_long_is_refused_with_a_reason(catalog, bob_client):
    query = "g" * (QUERY_MAX_LENGTH + 1)
    page = bob_client.get("/search/", {"q": query}, headers={"accept-language": "en"})
    assert page.status_code == 400
    body = page.content.decode()
    assert f"Search for at most {QUERY_MAX_LENGTH} characters." in body
    assert '<li class="search-result' not in body
    api = bob_client.get("/api/search/", {"q": query})
    assert api.status_code == 422
    assert api.json()["detail"][0]["loc"] == ["query", "q"]


@pytest.mark.parametrize("limit", ["0", "51", "many"])
def test_a_limit_out_of_range_is_refused(catalog, bob_client, limit):
    assert bob_client.get("/api/search/", {"q": "git", "limit": limit}).status_code == 422


def test_the_top_bar_box_takes_no_longer_a_query_than_the_server(catalog, bob_client):
    page = bob_client.get("/").content.decode()
    assert f'id="site-search" type="search" name="q" maxlength="{QUERY_MAX_LENGTH}"' in page


def test_markup_in_a_query_or_the_catalog_is_shown_as_text(catalog, bob_client):
    Service.objects.filter(slug="gitlab").update(name="GitLab <script>alert(1)</script>")
    CatalogRevision.bump()
    body = bob_client.get("/search/", {"q": "<script>"}).content.decode()
    assert "<script>alert(1)</script>" not in body
    assert "GitLab &lt;script&gt;alert(1)&lt;/script&gt;" in body


# --- Visibility ---------------------------------------------------------------------------


@pytest.fixture
def limited(catalog, django_user_model, bob, sam):
    """Keymaster, a DevOps service limited to /platform/devops; Flower hidden; Kestrel, a
    category limited to /platform/devops with its service Sealbroker, checklist item and
    note. dana is in /platform/devops, bob in no group, sam staff."""
    devops = Category.objects.get(slug="devops")
    Service.objects.create(
        category=devops, slug="keymaster", name="Keymaster", summary="Unseals",
        visible_to_groups=[DEVOPS],
    )  # fmt: skip
    DataStore.objects.create(
        category=devops, slug="lockbox", name="Lockbox", kind="relational",
        description="Keys", visible_to_groups=[DEVOPS],
    )  # fmt: skip
    Service.objects.filter(slug="flower").update(hidden=True)
    kestrel = Category.objects.create(
        slug="kestrel", name="Kestrel", title="Kestrel Guide", summary="Birds",
        visible_to_groups=[DEVOPS],
    )  # fmt: skip
    Service.objects.create(category=kestrel, slug="sealbroker", name="Sealbroker", summary="s")
    ChecklistItem.objects.create(category=kestrel, position=1, text="Feed the falcon")
    ConfigNote.objects.create(category=kestrel, position=1, text="Falconry gloves")
    CatalogRevision.bump()
    dana = django_user_model.objects.create_user(username="dana", membership="approved")
    dana.groups.add(Group.objects.create(name=DEVOPS))
    return {"dana": dana, "bob": bob, "sam": sam}


# A word searched for, and the result it finds for those who may see it.
SECRET_NAMES = {
    "keymaster": "Keymaster",
    "lockbox": "Lockbox",
    "kestrel": "Kestrel",
    "sealbroker": "Sealbroker",
    "falcon": "Feed the falcon",
    "flower": "Flower",
}
SECRETS = list(SECRET_NAMES)
SEES = {
    "bob": {"keymaster": False, "lockbox": False, "kestrel": False, "sealbroker": False,
            "falcon": False, "flower": False},
    "dana": {"keymaster": True, "lockbox": True, "kestrel": True, "sealbroker": True,
             "falcon": True, "flower": False},
    "sam": dict.fromkeys(SECRETS, True),
}  # fmt: skip


@pytest.mark.parametrize("reader", list(SEES))
def test_search_finds_only_what_the_reader_may_see(limited, reader):
    client = client_for(limited[reader])
    for word in SECRETS:
        page = client.get("/search/", {"q": word}).content.decode()
        shown = re.findall(r'class="search-result-name" href="[^"]*">([^<]*)<', page)
        api = client.get("/api/search/", {"q": word}).json()
        found = SECRET_NAMES[word] in shown
        assert found is SEES[reader][word], (reader, word)
        assert [r["name"] for r in api["results"]] == shown
        assert api["total"] == len(shown)


def test_a_members_groups_cost_one_query_when_some_item_is_limited(
    limited, django_assert_num_queries
):
    dana = client_for(limited["dana"])
    dana.get("/search/", {"q": "k"})
    # The user, and which of the limits' groups she is in (the page state is cached).
    with django_assert_num_queries(2):
        assert "Keymaster" in dana.get("/search/", {"q": "key"}).content.decode()
    with django_assert_num_queries(2):
        assert dana.get("/api/search/", {"q": "key"}).json()["results"][0]["name"] == "Keymaster"


def test_members_outside_a_limit_do_not_learn_it_from_the_top_bar(limited):
    page = client_for(limited["bob"]).get("/search/", {"q": "birds"}).content.decode()
    assert "Kestrel" not in page
    assert "Kestrel" in client_for(limited["dana"]).get("/search/").content.decode()


# --- The page and the JSON ----------------------------------------------------------------


def test_the_json_gives_absolute_addresses_and_labels_in_the_readers_language(catalog, bob_client):
    english = {"accept-language": "en"}
    answer = bob_client.get("/api/search/", {"q": "gitlab", "limit": 2}, headers=english).json()
    assert answer["total"] == 7
    assert answer["results"][0] == {
        "kind": "service",
        "kind_label": "Service",
        "name": "GitLab",
        "summary": "소스코드/이슈/CI 통합 플랫폼 (Keycloak OIDC)",
        "category": "devops",
        "category_name": "DevOps",
        "url": "http://testserver/categories/devops/#service-gitlab",
        "tool_url": "http://testserver/gitlab",
    }
    assert answer["results"][1]["tool_url"] is None  # GitLab Runner: no address
    korean = bob_client.get("/api/search/", {"q": "gitlab"}, headers={"accept-language": "ko"})
    assert korean.json()["results"][0]["kind_label"] == "서비스"


def test_the_page_lists_what_the_json_lists(catalog, bob_client):
    page = bob_client.get("/search/", {"q": "redis"}, headers={"accept-language": "en"})
    page = page.content.decode()
    api = bob_client.get("/api/search/", {"q": "redis"}).json()
    hrefs = re.findall(r'class="search-result-name" href="([^"]*)"', page)
    assert hrefs == [
        (r["tool_url"] or r["url"]).removeprefix("http://testserver") for r in api["results"]
    ]
    assert "3 results" in page


def test_the_page_and_the_json_read_no_catalog_once_indexed(
    catalog, bob_client, django_assert_num_queries
):
    # Cold: 1. the signed-in user, 2. the page state (catalog revision), 3. the catalog's
    # limits (then cached), 4.-7. the index: categories, services, data stores, and the
    # checklist items UNION notes (then cached by revision).
    with django_assert_num_queries(7):
        assert bob_client.get("/search/", {"q": "git"}).status_code == 200
    # Warm: the user alone (the page state is cached too), whatever the query.
    for query in ["jenkins", "파이프라인", "nothing-like-it"]:
        with django_assert_num_queries(1):
            assert bob_client.get("/search/", {"q": query}).status_code == 200
        with django_assert_num_queries(1):
            assert bob_client.get("/api/search/", {"q": query}).status_code == 200


def test_a_catalog_change_is_found_at_once(catalog, bob_client):
    assert bob_client.get("/api/search/", {"q": "harbor"}).json()["total"] == 0
    Service.objects.create(
        category=Category.objects.get(slug="devops"), slug="harbor", name="Harbor", summary="r"
    )
    assert bob_client.get("/api/search/", {"q": "harbor"}).json()["total"] == 1


def test_the_category_page_has_the_anchors_results_point_at(catalog, bob_client):
    page = bob_client.get("/categories/devops/").content.decode()
    entries = build_index().entries
    for entry in [e for e in entries if e.category_slug == "devops" and e.kind != "category"]:
        anchor = entry.place.split("#")[1]
        assert page.count(f'id="{anchor}"') == 1, anchor


def test_the_first_and_last_entries_are_found_to_their_last_letter(catalog):
    index = build_index()
    first, last = index.entries[0], index.entries[-1]
    for entry in (first, last):
        tail = normalized(entry.name)[-6:]
        found = search(tail, reader=Reader(staff=True), index=index, limit=50).results
        assert entry in found


def test_service_results_show_the_tools_icon(catalog, bob_client):
    def results(query):
        page = bob_client.get("/search/", {"q": query}).content.decode()
        return page.split('<li class="search-result ')[1:]

    Service.objects.filter(slug="flower").update(icon="")
    CatalogRevision.bump()
    [gitlab] = [item for item in results("gitlab") if ">GitLab</a>" in item]
    assert gitlab.startswith("search-result-service") and 'data-icon="gitlab"' in gitlab
    [flower] = [item for item in results("flower") if ">Flower</a>" in item]
    assert 'data-icon="monogram"' in flower
    assert all("data-icon" not in item for item in results("postgresql") if "-service" not in item)
