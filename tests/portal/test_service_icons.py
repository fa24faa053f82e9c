"""Tool icons: a service names a logo the portal ships (Simple Icons, CC0) in the Admin UI or
catalog YAML, or shows a monogram of its name; the icon stands next to the service's name on
the category page's cards and component list, on the architecture map and on the home page."""

import re
import subprocess
import sys
from io import StringIO
from pathlib import Path

import pytest
import yaml
from django.contrib.staticfiles import finders
from django.core.management import call_command
from django.test import Client
from django.utils import translation

from portal.icons import ICON_DIR, icon_of, initials, known_icons, monogram_colour
from portal.models import Service
from tests.portal.test_catalog_as_code import edit, export_text, refused, run_import, snapshot

SHIPPED = {
    "admin-ui": "django",
    "gitlab": "gitlab",
    "jenkins": "jenkins",
    "flower": "",
    "gitlab-runner": "gitlab",
    "keycloak": "keycloak",
    "oauth2-proxy": "",
    "jupyterhub": "jupyter",
}


@pytest.fixture
def exported(catalog, tmp_path):
    path = tmp_path / "catalog.yaml"
    path.write_text(export_text(), encoding="utf-8")
    return path


def test_the_logos_ship_as_static_svg_with_their_licence_and_version():
    assert {"gitlab", "jenkins", "keycloak", "grafana", "prometheus", "redis"} <= known_icons()
    assert {"postgresql", "jupyter", "harbor", "argo", "kubernetes", "minio"} <= known_icons()
    gitlab = finders.find("portal/icons/gitlab.svg")
    assert gitlab and Path(gitlab).read_text(encoding="utf-8").startswith("<svg")
    note = (ICON_DIR / "LICENSE.md").read_text(encoding="utf-8")
    assert "CC0 1.0" in note and re.search(r"Simple Icons \d+\.\d+\.\d+", note)
    assert f"{len(known_icons())} icons" in note  # every file is the vendor script's


def test_the_shipped_catalog_names_a_shipped_logo_where_there_is_one(catalog):
    assert dict(Service.objects.values_list("slug", "icon")) == SHIPPED
    for service in Service.objects.all():
        service.full_clean()


def test_a_monogram_is_the_names_initials_on_a_colour_fixed_by_the_slug():
    assert initials("GitLab Runner") == "GR"
    assert initials("oauth2-proxy") == "OP"
    assert initials("Flower") == "F"
    assert initials("워크스페이스 저장소") == "워저"
    # The same colour in every process (hash() of a str differs between processes).
    other = subprocess.run(
        [sys.executable, "-c", "import zlib; print(zlib.crc32(b'flower') % 8)"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert monogram_colour("flower") == int(other.stdout)
    flower = Service(slug="flower", name="Flower", icon="")
    assert icon_of(flower).logo == "" and icon_of(flower).initials == "F"
    assert icon_of(Service(slug="gitlab", name="GitLab", icon="gitlab")).logo == (
        "portal/icons/gitlab.svg"
    )


# --- catalog YAML ---------------------------------------------------------------------


def test_export_writes_an_icon_only_where_a_service_has_one(catalog):
    devops = yaml.safe_load(export_text())["categories"][0]
    icons = {service["slug"]: service.get("icon") for service in devops["services"]}
    assert icons == {
        "admin-ui": "django",
        "gitlab": "gitlab",
        "jenkins": "jenkins",
        "flower": None,
        "gitlab-runner": "gitlab",
    }


def test_import_sets_and_clears_icons_and_round_trips(exported):
    edit(exported, lambda data: data["categories"][0]["services"][3].update(icon="celery"))
    assert run_import(exported) == ["~ service flower: icon"]
    assert Service.objects.get(slug="flower").icon == "celery"
    assert yaml.safe_load(export_text())["categories"][0]["services"][3]["icon"] == "celery"
    assert run_import(exported) == ["No changes."]
    # A file without the key takes the logo away: the service shows its monogram again.
    edit(exported, lambda data: data["categories"][0]["services"][1].pop("icon"))
    assert run_import(exported) == ["~ service gitlab: icon"]
    assert Service.objects.get(slug="gitlab").icon == ""


def test_a_dry_run_reports_an_icon_change_and_writes_nothing(exported):
    edit(exported, lambda data: data["categories"][0]["services"][3].update(icon="celery"))
    before = snapshot()
    assert run_import(exported, "--dry-run") == [
        "~ service flower: icon",
        "Dry run: nothing was written.",
    ]
    assert snapshot() == before


@pytest.mark.parametrize(
    ("icon", "expected"),
    [
        ("gitlabb", 'No icon "gitlabb": the known icons are those in portal/static/portal/'),
        ("GitLab", 'No icon "GitLab"'),
        ("../aixops/logo", 'No icon "../aixops/logo"'),
        (3, "icon: expected text, got 3"),
    ],
)
def test_an_unknown_icon_is_refused_naming_the_item_and_where_icons_come_from(
    exported, icon, expected
):
    def change(data):
        data["categories"][0]["title"] = "Changed but must not be written"
        data["categories"][0]["services"][3]["icon"] = icon

    edit(exported, change)
    before = snapshot()
    with translation.override("en"):
        message = refused(exported)
    assert "nothing was changed" in message
    assert f"{exported}: categories[0] 'devops' > services[3] 'flower': icon: " in message
    assert expected in message
    if isinstance(icon, str):
        assert "Simple Icons" in message
    assert snapshot() == before


# --- Admin UI -------------------------------------------------------------------------


def test_admin_offers_the_shipped_logos_and_refuses_another(catalog, alice_client):
    flower = Service.objects.get(slug="flower")
    url = f"/admin/portal/service/{flower.pk}/change/"
    page = alice_client.get(url).content.decode()
    assert '<select name="icon"' in page and '<option value="celery">celery</option>' in page
    response = alice_client.post(
        url,
        {
            "category": flower.category_id,
            "slug": "flower",
            "name": "Flower",
            "summary": flower.summary,
            "role": "menu",
            "location": flower.location,
            "access": flower.access,
            "icon": "not-a-logo",
            "position": flower.position,
            "slo_window_days": 30,
        },
    )
    assert response.status_code == 200
    assert response.context["adminform"].form.errors.keys() == {"icon"}
    flower.refresh_from_db()
    assert flower.icon == ""


# --- pages ----------------------------------------------------------------------------


def logo(name: str) -> str:
    return f'src="/static/portal/icons/{name}.svg" alt="" width="24" height="24" data-icon="{name}"'


def section(page: str, start: str, end: str) -> str:
    return page[page.index(start) : page.index(end, page.index(start))]


def test_service_cards_and_components_show_a_logo_or_a_monogram(catalog, bob_client):
    page = bob_client.get("/categories/devops/").content.decode()
    cards = section(page, 'id="snapshot-title"', 'id="highlights-title"')
    components = section(page, 'id="components-title"', "</section>")
    for part in (cards, components):
        icons = re.findall(r'data-icon="([^"]+)"', part)
        assert icons == ["django", "gitlab", "jenkins", "monogram", "gitlab"]
        assert logo("gitlab") in part
        # Flower has no logo: its initial on its slug's colour, hidden from screen readers.
        colour = monogram_colour("flower")
        assert re.search(
            rf'<span class="service-icon monogram monogram-{colour}[^"]*" aria-hidden="true" '
            r'data-icon="monogram">F</span>',
            part,
        )
    assert "service-icon-small" in components and "service-icon-small" not in cards


def test_map_nodes_show_a_services_logo_or_monogram(catalog, bob_client):
    page = bob_client.get("/categories/devops/").content.decode()
    svg = section(page, '<svg class="architecture-map"', "</svg>")
    nodes = re.findall(
        r'<g class="node node-(\w+)" data-node="[^"]+">(.*?)</g>(?=<g class="node|</g>)', svg
    )
    icons = {
        label: re.findall(r'data-icon="([^"]+)"', body)
        for kind, body in nodes
        for label in re.findall(r'class="node-label"[^>]*>([^<]*)<', body)
    }
    assert icons["GitLab"] == ["portal/icons/gitlab.svg"]
    assert icons["Flower"] == ["monogram"]
    assert icons["GitLab Internal PostgreSQL"] == []  # data stores carry no icon
    assert '<image href="/static/portal/icons/jenkins.svg"' in svg


def test_home_cards_show_their_shown_menu_services_icons(catalog, bob_client):
    page = bob_client.get("/").content.decode()
    devops = section(page, '<h2><a href="/categories/devops/"', "</article>")
    # Menu services in display order; GitLab Runner is a supporting service.
    assert re.findall(r'data-icon="([^"]+)"', devops) == ["django", "gitlab", "jenkins", "monogram"]
    assert '<ul class="launch-icons" aria-hidden="true">' in devops
    # Without the name next to it, a hover names the tool.
    assert 'data-icon="gitlab" title="GitLab">' in devops
    identity = section(page, '<h2><a href="/categories/identity-access/"', "</article>")
    assert re.findall(r'data-icon="([^"]+)"', identity) == ["keycloak"]


def test_home_cards_leave_out_the_icons_of_services_a_member_may_not_see(
    catalog, bob, alice_client
):
    gitlab = Service.objects.get(slug="gitlab")
    gitlab.visible_to_groups = ["/platform/sre"]
    gitlab.save()
    Service.objects.filter(slug="jenkins").update(hidden=True)
    member = Client()
    member.force_login(bob)
    for client, expected in (
        (member, ["django", "monogram"]),
        (alice_client, ["django", "gitlab", "monogram"]),
    ):
        page = client.get("/").content.decode()
        devops = section(page, '<h2><a href="/categories/devops/"', "</article>")
        assert re.findall(r'data-icon="([^"]+)"', devops) == expected


def test_the_catalog_command_lists_no_icon_for_a_service_without(catalog):
    out = StringIO()
    call_command("catalog", "export", stdout=out)
    flower = next(
        s
        for s in yaml.safe_load(out.getvalue())["categories"][0]["services"]
        if s["slug"] == "flower"
    )
    assert "icon" not in flower


def test_a_home_card_shows_its_first_eight_icons_and_counts_the_rest(catalog, bob_client):
    devops = Service.objects.get(slug="gitlab").category
    Service.objects.bulk_create(
        Service(category=devops, slug=f"tool-{n}", name=f"Tool {n}", summary="", position=100 + n)
        for n in range(10)
    )
    page = bob_client.get("/").content.decode()
    card = section(page, '<h2><a href="/categories/devops/"', "</article>")
    assert len(re.findall(r'data-icon="([^"]+)"', card)) == 8
    assert 'title="Tool 3"' in card and 'title="Tool 4"' not in card
    assert '<li class="launch-more">+6</li>' in card
