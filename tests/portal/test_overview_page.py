"""The category overview reproduces the seed page and shows what the catalog holds."""

import hashlib
import re
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from django.urls import reverse

from portal.diagram import Node
from portal.models import Category, ChecklistItem, Service
from tests.factories import make_checks, make_finished_scan
from tests.pagetext import page_text, squeeze

SEED = Path(__file__).parent.parent / "data" / "seed_devops_overview.txt"
SHARED_SEED = Path(__file__).resolve().parents[3] / "shared" / "seed" / "000_13c88b72db14781f.txt"
# The SHA-256 of shared/seed/000_13c88b72db14781f.txt, the page as captured: the copy in
# tests/data is held to it in any clone, and the shared file too where it is beside one.
SEED_SHA256 = "b31d10344c2876e2c65371750e0e733516c19e9322e18c2e5e4b71ecfe89ead0"
# The seed's health line: the last scan finished at 05:36:00 in Seoul, everything up.
HEALTH_LINE = "Last Scan: 오전 5:36:00 • System Optimal"
SCAN_TIME = datetime(2025, 6, 2, 5, 36, 0, tzinfo=ZoneInfo("Asia/Seoul"))


def seed_lines() -> list[str]:
    """The seed's content lines, without the capture's list markers and code backticks."""
    lines = []
    for raw in SEED.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line:
            continue
        line = re.sub(r"^(•|\d+\.)\s+", "", line)
        lines.append(line.replace("`", ""))
    return lines


@pytest.fixture
def seed_scan(catalog, monkeypatch):
    """As on the seed: every item checked and up, the last scan finished at 05:36:00 in
    Seoul, and the clock half a minute later (so the scan is fresh, not stale)."""
    for category in Category.objects.all():
        make_checks(category)
    make_finished_scan(at=SCAN_TIME, checked=12, up=12)
    monkeypatch.setattr("django.utils.timezone.now", lambda: SCAN_TIME + timedelta(seconds=30))


@pytest.fixture
def devops_page(seed_scan, bob_client):
    response = bob_client.get(reverse("portal:category", args=["devops"]))
    assert response.status_code == 200
    return response.content.decode()


def test_vendored_seed_is_the_captured_page():
    copies = [SEED, *([SHARED_SEED] if SHARED_SEED.exists() else [])]
    assert {hashlib.sha256(copy.read_bytes()).hexdigest() for copy in copies} == {SEED_SHA256}


def test_every_seed_line_is_on_the_page_in_order(devops_page):
    text = squeeze(page_text(devops_page))
    position = 0
    for line in seed_lines():
        found = text.find(squeeze(line), position)
        assert found >= 0, f"seed line missing or out of order: {line!r}"
        position = found + len(squeeze(line))


def test_counts_match_the_seed(devops_page):
    text = squeeze(page_text(devops_page))
    for label, value in [
        ("VisibleApps", 4),
        ("HiddenApps", 0),
        ("Supporting", 1),
        ("DataStores", 4),
        ("ChecklistItems", 3),
        ("SSO/AccessTouchpoints", 2),
    ]:
        assert f"{label}{value}" in text, label
    assert "5Items" in text


def test_health_line_is_the_seeds(devops_page):
    assert squeeze(HEALTH_LINE) in squeeze(page_text(devops_page))


def test_scan_slot_says_no_scan_yet_before_any_scan(catalog, bob_client):
    page = bob_client.get("/categories/devops/").content.decode()
    assert "Last Scan:" in page
    assert "아직 스캔 없음" in page


def test_checklist_code_is_rendered_as_code(devops_page):
    assert "<code>/gitlab/users/auth/openid_connect</code>" in devops_page


def test_catalog_text_is_escaped(catalog, bob_client):
    ChecklistItem.objects.filter(category__slug="devops", position=1).update(
        text="<script>alert(1)</script> then `<b>code</b>`"
    )
    page = bob_client.get("/categories/devops/").content.decode()
    assert "<script>alert(1)</script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt; then <code>&lt;b&gt;code&lt;/b&gt;</code>" in page


def test_architecture_map_draws_services_stores_and_edges(devops_page):
    svg = re.search(r"<svg class=\"architecture-map\".*?</svg>", devops_page, re.S).group(0)
    gitlab = Service.objects.get(slug="gitlab")
    runner = Service.objects.get(slug="gitlab-runner")
    for name in [
        "Admin UI",
        "GitLab",
        "Jenkins",
        "Flower",
        "GitLab Runner",
        "GitLab Internal PostgreSQL",
        "Jenkins Home (Volume)",
    ]:
        assert f">{name}</text>" in svg
    assert svg.count('class="edge edge-uses"') == 5
    assert svg.count('class="edge edge-calls"') == 2
    assert f'data-source="service-{runner.pk}" data-target="service-{gitlab.pk}"' in svg


def test_hidden_services_are_counted_but_not_shown_to_members(catalog, bob_client, alice_client):
    Service.objects.filter(slug="flower").update(hidden=True)
    member_page = squeeze(page_text(bob_client.get("/categories/devops/").content.decode()))
    assert "VisibleApps3" in member_page and "HiddenApps1" in member_page
    assert "4Items" in member_page
    assert "Celery작업모니터링UI" not in member_page

    admin_page = alice_client.get("/categories/devops/").content.decode()
    assert "Celery 작업 모니터링 UI" in admin_page
    assert "badge-hidden" in admin_page


def test_unknown_category_is_404(catalog, bob_client):
    assert bob_client.get("/categories/nope/").status_code == 404


def test_second_category_is_reachable_from_the_first(devops_page, bob_client):
    assert 'href="/categories/identity-access/"' in devops_page
    page = bob_client.get("/categories/identity-access/").content.decode()
    assert "Identity &amp; Access Guide" in page
    assert "oauth2-proxy Session Redis" in page


def test_home_lists_categories_with_counts(catalog, bob_client):
    text = squeeze(page_text(bob_client.get("/").content.decode()))
    assert "DevOpsGuide" in text and "Identity&AccessGuide" in text
    assert (
        "VisibleApps4HiddenApps0Supporting1DataStores4ChecklistItems3SSO/AccessTouchpoints2" in text
    )


def test_home_renders_in_seven_queries_then_one(catalog, bob_client, django_assert_num_queries):
    # 1. the signed-in user, 2. the catalog revision with the latest finished scan and the
    # last incident change (the cached page's key), 3. the catalog's limited items (none
    # here; then cached by revision), 4. the categories with their six counts as
    # subqueries, 5. every enabled check with its category, role and maintenance flag (for
    # each category's status), 6. the open incidents with their latest update, 7. the
    # services the reader pinned (none here; tests/portal/test_pins.py). The session is
    # read from the cache; once cached (the page state and the reader's pinned slugs too),
    # only 1 remains.
    with django_assert_num_queries(7):
        assert bob_client.get("/").status_code == 200
    with django_assert_num_queries(1):
        assert bob_client.get("/").status_code == 200


def test_language_switch_shows_english(devops_page, bob_client):
    response = bob_client.post(
        "/i18n/setlang/", {"language": "en", "next": "/categories/devops/"}, follow=True
    )
    page = response.content.decode()
    assert "Core service snapshot" in page
    assert "핵심 서비스 스냅샷" not in page
    # Catalog text stays in its own words.
    assert "회원 승인 및 개인 워크스페이스 운영 콘솔" in page


@pytest.mark.parametrize("url", ["/", "/categories/devops/"])
def test_anonymous_visitor_is_sent_to_sign_in(catalog, client, url):
    response = client.get(url)
    assert response.status_code == 302
    assert response["Location"] == f"{reverse('accounts:login')}?next={url}"


def test_local_sign_in_leads_back_to_the_page(catalog, client, bob):
    response = client.post(
        "/accounts/login/",
        {"username": "bob", "password": "bob-password", "next": "/categories/devops/"},
    )
    assert response.status_code == 302
    assert response["Location"] == "/categories/devops/"
    assert client.get("/categories/devops/").status_code == 200


def test_map_nodes_carry_each_items_health(catalog, bob_client):
    from portal.models import Category, HealthCheck
    from tests.factories import make_checks, make_finished_scan

    make_checks(Category.objects.get(slug="devops"))
    HealthCheck.objects.filter(data_store__slug="gitlab-postgresql").update(status="down")
    make_finished_scan()
    page = bob_client.get("/categories/devops/").content.decode()
    svg = re.search(r"<svg class=\"architecture-map\".*?</svg>", page, re.S).group(0)
    assert svg.count('class="dot status-up"') == 8
    assert svg.count('class="dot status-down"') == 1


@pytest.mark.parametrize(
    ("label", "shown"),
    [
        ("Redis (Flower/Celery 관찰 대상)", "Redis (Flower/Celery 관찰 대상)"),
        ("GitLab Internal PostgreSQL", "GitLab Internal PostgreSQL"),
        # Wide characters take two places: sixteen Hangul do not fit where 31 letters do.
        ("가나다라마바사아자차카타파하가나", "가나다라마바사아자차카타파하가…"),
        ("A" * 31, "A" * 31),
        ("A" * 32, "A" * 30 + "…"),
    ],
)
def test_map_labels_are_cut_where_they_would_leave_their_box(label, shown):
    assert Node("service-1", label, "menu", 0, 0).short_label == shown


def test_every_seed_map_label_is_shown_whole(devops_page):
    svg = devops_page[devops_page.index("<svg") : devops_page.index("</svg>")]
    labels = re.findall(r'<text class="node-label"[^>]*>([^<]*)</text>', svg)
    assert len(labels) == 9
    assert not [label for label in labels if label.endswith("…")]
