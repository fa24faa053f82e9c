"""Admins edit the whole catalog in the Admin UI, with validation that names the field."""

import pytest

from portal.models import Category, Service


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
