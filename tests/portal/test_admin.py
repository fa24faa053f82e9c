"""Admins edit the whole catalog in the Admin UI, with validation that names the field."""

from html.parser import HTMLParser

import pytest
from django.conf import settings
from django.test import Client

from portal.admin import INLINE_ITEMS_MAX
from portal.models import Category, Service
from tests.factories import make_category


@pytest.mark.parametrize(
    "url",
    [
        "/admin/portal/category/",
        "/admin/portal/service/?role__exact=supporting",
        "/admin/portal/datastore/?q=redis",
        "/admin/portal/focusarea/",
        "/admin/portal/checklistitem/",
        "/admin/portal/confignote/?is_access_touchpoint__exact=1",
    ],
)
def test_catalog_lists_open_for_admins(catalog, alice_client, url):
    assert alice_client.get(url).status_code == 200


def test_category_page_edits_everything_inline(catalog, alice_client):
    devops = Category.objects.get(slug="devops")
    page = alice_client.get(f"/admin/portal/category/{devops.pk}/change/").content.decode()
    for prefix in ["services", "data_stores", "focus_areas", "checklist_items", "config_notes"]:
        assert f'name="{prefix}-TOTAL_FORMS"' in page


class PostedFields(HTMLParser):
    """The fields a browser posts from the form `form_id` of a page: its inputs (boxes
    only when ticked), the chosen options of its selects and its text areas."""

    def __init__(self, form_id: str):
        super().__init__()
        self.form_id = form_id
        self.inside = False
        self.select: str | None = None
        self.textarea: list[str] | None = None
        self.fields: dict[str, list[str]] = {}

    def add(self, name: str, value: str) -> None:
        self.fields.setdefault(name, []).append(value)

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "form":
            self.inside = attrs.get("id") == self.form_id
        elif not self.inside:
            return
        elif tag == "input" and "name" in attrs:
            kind = attrs.get("type", "text")
            if kind in ("checkbox", "radio") and "checked" not in attrs:
                return
            if kind not in ("submit", "button", "reset", "file", "image"):
                self.add(attrs["name"], attrs.get("value") or ("on" if kind == "checkbox" else ""))
        elif tag == "select":
            self.select = attrs.get("name")
        elif tag == "option" and self.select and "selected" in attrs:
            self.add(self.select, attrs.get("value", ""))
        elif tag == "textarea":
            self.textarea = [attrs["name"], ""]

    def handle_endtag(self, tag):
        if tag == "form":
            self.inside = False
        elif tag == "select":
            self.select = None
        elif tag == "textarea" and self.textarea:
            name, text = self.textarea
            # A browser drops the newline that starts a text area's content.
            self.add(name, text.removeprefix("\n"))
            self.textarea = None

    def handle_data(self, data):
        if self.textarea:
            self.textarea[1] += data


def posted(page: str, form_id: str) -> dict[str, list[str]]:
    parser = PostedFields(form_id)
    parser.feed(page)
    return parser.fields


@pytest.fixture
def sam_client(sam):
    client = Client()
    client.force_login(sam)
    return client


def test_a_large_categorys_page_links_its_items_and_saves_as_a_browser_posts_it(
    catalog, sam_client
):
    big = make_category("big", services=2 * INLINE_ITEMS_MAX, stores=INLINE_ITEMS_MAX, items=5)
    url = f"/admin/portal/category/{big.pk}/change/"
    page = sam_client.get(url).content.decode()
    # Its services and data stores are edited in their own lists, which it links to.
    assert 'name="services-TOTAL_FORMS"' not in page
    assert 'name="data_stores-TOTAL_FORMS"' not in page
    lists = f"?category__id__exact={big.pk}"
    assert f'href="/admin/portal/service/{lists}">서비스 {2 * INLINE_ITEMS_MAX}개' in page
    assert f'href="/admin/portal/datastore/{lists}">데이터 저장소 {INLINE_ITEMS_MAX}개' in page
    for prefix in ["focus_areas", "checklist_items", "config_notes"]:
        assert f'name="{prefix}-TOTAL_FORMS"' in page
    form = posted(page, "category_form")
    assert sum(len(values) for values in form.values()) < settings.DATA_UPLOAD_MAX_NUMBER_FIELDS
    form["title"] = ["The Big Guide"]
    response = sam_client.post(url, {**form, "_save": "Save"})
    assert response.status_code == 302, response.content.decode()[:2000]
    big.refresh_from_db()
    assert big.title == "The Big Guide"
    assert big.services.count() == 2 * INLINE_ITEMS_MAX
    listed = sam_client.get(f"/admin/portal/service/?category__id__exact={big.pk}")
    assert listed.context["cl"].result_count == 2 * INLINE_ITEMS_MAX


@pytest.mark.parametrize("size", ["seed", "at the most"])
def test_a_smaller_categorys_page_saves_its_inline_rows_as_a_browser_posts_them(
    catalog, sam_client, size
):
    if size == "seed":
        category = Category.objects.get(slug="devops")
    else:
        stores = INLINE_ITEMS_MAX // 4
        category = make_category(services=INLINE_ITEMS_MAX - stores, stores=stores, items=5)
    url = f"/admin/portal/category/{category.pk}/change/"
    form = posted(sam_client.get(url).content.decode(), "category_form")
    assert len(form["services-TOTAL_FORMS"]) == 1
    assert sum(len(values) for values in form.values()) < settings.DATA_UPLOAD_MAX_NUMBER_FIELDS
    first = form["services-0-id"][0]
    form["services-0-summary"] = ["Edited in the category's page"]
    response = sam_client.post(url, {**form, "_save": "Save"})
    assert response.status_code == 302, response.content.decode()[:2000]
    assert Service.objects.get(pk=first).summary == "Edited in the category's page"


def test_service_search_and_filter(catalog, alice_client):
    page = alice_client.get("/admin/portal/service/?q=runner").content.decode()
    assert "GitLab Runner" in page and ">Jenkins<" not in page


def test_admin_refuses_an_unusable_location(catalog, alice_client):
    gitlab = Service.objects.get(slug="gitlab")
    response = alice_client.post(
        f"/admin/portal/service/{gitlab.pk}/change/",
        {
            "category": gitlab.category_id,
            "slug": "gitlab",
            "name": "GitLab",
            "summary": gitlab.summary,
            "role": "menu",
            "location": "ftp://gitlab.example.com",
            "access": "keycloak_oidc",
            "position": 20,
            "slo_window_days": 30,
        },
    )
    assert response.status_code == 200
    assert response.context["adminform"].form.errors.keys() == {"location"}
    gitlab.refresh_from_db()
    assert gitlab.location == "/gitlab"


def test_admin_refuses_a_duplicate_slug(catalog, alice_client):
    devops = Category.objects.get(slug="devops")
    response = alice_client.post(
        "/admin/portal/service/add/",
        {
            "category": devops.pk,
            "slug": "jenkins",
            "name": "Jenkins 2",
            "summary": "x",
            "role": "menu",
            "location": "/jenkins2",
            "access": "none",
            "position": 99,
        },
    )
    assert response.status_code == 200
    assert "slug" in response.context["adminform"].form.errors
    assert Service.objects.filter(name="Jenkins 2").count() == 0


def test_members_cannot_open_the_admin(catalog, bob_client):
    response = bob_client.get("/admin/portal/category/")
    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")


def service_form(service, **changes) -> dict:
    return {
        "category": service.category_id,
        "slug": service.slug,
        "name": service.name,
        "summary": service.summary,
        "role": service.role,
        "location": service.location,
        "access": service.access,
        "position": service.position,
        "slo_window_days": service.slo_window_days,
        "talks_to": [other.pk for other in service.talks_to.all()],
        **changes,
    }


def test_admin_refuses_a_service_that_talks_to_itself(catalog, alice_client):
    jenkins = Service.objects.get(slug="jenkins")
    gitlab = Service.objects.get(slug="gitlab")
    response = alice_client.post(
        f"/admin/portal/service/{jenkins.pk}/change/",
        service_form(jenkins, talks_to=[gitlab.pk, jenkins.pk]),
    )
    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert errors.keys() == {"talks_to"}
    assert list(jenkins.talks_to.all()) == [gitlab]


def test_admin_refuses_text_with_a_nul_character(catalog, alice_client):
    jenkins = Service.objects.get(slug="jenkins")
    response = alice_client.post(
        f"/admin/portal/service/{jenkins.pk}/change/", service_form(jenkins, summary="CI\0")
    )
    assert response.status_code == 200
    assert response.context["adminform"].form.errors.keys() == {"summary"}
    jenkins.refresh_from_db()
    assert "\0" not in jenkins.summary


# The service page's maintenance windows inline, empty: a save needs its management form.
NO_WINDOWS = {"maintenance_windows-TOTAL_FORMS": 0, "maintenance_windows-INITIAL_FORMS": 0}


def test_admin_limits_a_service_to_groups_one_a_line(catalog, alice_client):
    jenkins = Service.objects.get(slug="jenkins")
    groups = "/platform/sre\n  /platform/devops \n\n"
    form = service_form(jenkins, visible_to_groups=groups, **NO_WINDOWS)
    response = alice_client.post(f"/admin/portal/service/{jenkins.pk}/change/", form)
    assert response.status_code == 302
    jenkins.refresh_from_db()
    assert jenkins.visible_to_groups == ["/platform/devops", "/platform/sre"]
    page = alice_client.get("/admin/portal/service/").content.decode()
    assert "/platform/devops, /platform/sre" in page
    # Cleared: every member sees it again.
    form = service_form(jenkins, visible_to_groups="", **NO_WINDOWS)
    assert alice_client.post(f"/admin/portal/service/{jenkins.pk}/change/", form).status_code == 302
    jenkins.refresh_from_db()
    assert jenkins.visible_to_groups == []


@pytest.mark.parametrize("groups", ["platform/devops", "/platform//devops", "/platform/devops/"])
def test_admin_refuses_a_limit_that_is_no_group_path(catalog, alice_client, groups):
    jenkins = Service.objects.get(slug="jenkins")
    response = alice_client.post(
        f"/admin/portal/service/{jenkins.pk}/change/",
        service_form(jenkins, visible_to_groups=groups),
    )
    assert response.status_code == 200
    assert response.context["adminform"].form.errors.keys() == {"visible_to_groups"}
    jenkins.refresh_from_db()
    assert jenkins.visible_to_groups == []
