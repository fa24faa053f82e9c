"""What a category's page repeats per item (service and data store cards, components, the
map's nodes and edges) is written in Python (portal/catalog_html.py) for speed, and reads
exactly as the templates it replaces wrote it (category_catalog_before.html: the page's
catalog part as it was, but for its pin buttons, which now submit the page's one form),
for staff and members, in every language."""

from pathlib import Path

import pytest
from django.template import engines
from django.template.loader import render_to_string
from django.urls import NoReverseMatch, reverse
from django.utils import translation

from portal.catalog_html import slug_url
from portal.models import Category, DataStore, Service
from portal.selectors import category_overview
from portal.visibility import Reader

BEFORE = engines["django"].from_string(
    (Path(__file__).parent / "category_catalog_before.html").read_text()
)


@pytest.fixture
def varied_catalog(catalog):
    """The seed DevOps category with one of each thing a card or node may show: logos and
    monograms, a service without a location, a hidden one, limited items (and a limited
    category), stores with and without a remark and users, text to escape, and a label
    too long for its map node."""
    devops = Category.objects.get(slug="devops")
    Category.objects.filter(pk=devops.pk).update(visible_to_groups=["/platform/devops"])
    Service.objects.filter(slug="flower").update(hidden=True)  # a monogram, hidden
    Service.objects.filter(slug="jenkins").update(
        visible_to_groups=["/platform/devops", "/ops/<night> & day"],
        summary='Builds "quoted" <b>& escaped</b>',
    )
    Service.objects.filter(slug="gitlab").update(location="/gitlab?tab=1&view=<all>")
    Service.objects.create(
        category=devops,
        slug="long-korean-name",
        name="아주 긴 이름을 가진 모니터링 대시보드 서비스",
        summary="A monogram & a label cut on the map",
        role=Service.Role.SUPPORTING,
        access=Service.Access.KEYCLOAK_OIDC,
        position=99,
    )
    store = DataStore.objects.create(
        category=devops,
        slug="limited-store",
        name="Cache <Redis>",
        kind=DataStore.Kind.CACHE,
        description="Sessions & queues",
        remark='Kept "warm"',
        visible_to_groups=["/platform/devops"],
        position=99,
    )
    store.used_by.set(Service.objects.filter(slug__in=["jenkins", "flower", "long-korean-name"]))
    DataStore.objects.create(
        category=devops, slug="unused", name="Unused", kind="queue", description="-", position=98
    )
    # Visible to their group's members too (the group in the reader, as a member's
    # visibility class says).
    return Reader(staff=False, groups=frozenset({"/platform/devops"}))


@pytest.mark.parametrize("language", ["en", "ko"])
@pytest.mark.parametrize("staff", [False, True])
def test_the_catalog_part_reads_as_the_templates_wrote_it(varied_catalog, language, staff):
    reader = Reader(staff=True) if staff else varied_catalog
    with translation.override(language):
        overview = category_overview(slug="devops", reader=reader, scan=None)
        context = {"overview": overview, "staff": staff}
        written = render_to_string("portal/_category_body.html", context)
        assert written == BEFORE.render(context)
    # What the comparison covered: every kind of card, node and badge.
    assert written.count('class="card service-card') == (6 if staff else 5)
    assert ("badge-hidden" in written) == staff
    assert written.count('class="badge badge-limited"') == (3 if staff else 0)
    assert "/ops/&lt;night&gt; &amp; day" in written if staff else "night" not in written
    assert 'data-icon="monogram"' in written and 'data-icon="gitlab"' in written
    assert 'href="/gitlab?tab=1&amp;view=&lt;all&gt;"' in written
    assert '<p class="remark">Kept &quot;warm&quot;</p>' in written
    assert "<h3>GitLab Runner</h3>" in written  # no location: no link
    assert "아주 긴 이름을 가진 모니터…</text>" in written
    back = 'name="next" value="/categories/devops/#pin-jenkins"'
    assert f'formaction="/pins/jenkins/pin/" {back}' in written


def test_urls_reversed_once_per_page_are_those_reverse_gives():
    pin = slug_url("portal:pin")
    for slug in ("gitlab", "GitLab_Runner-2"):
        assert pin(slug) == reverse("portal:pin", args=[slug])
    # What is not a slug goes through reverse, which refuses it as the template did.
    with pytest.raises(NoReverseMatch):
        pin("not a slug")


@pytest.mark.parametrize("language", ["en", "ko"])
def test_the_overviews_items_are_rows_that_read_as_their_models(varied_catalog, language):
    # Plain rows, not model instances: a large category's cold page makes thousands.
    with translation.override(language):
        overview = category_overview(slug="devops", reader=Reader(staff=True), scan=None)
        services = {service.slug: service for service in Service.objects.all()}
        stores = {store.slug: store for store in DataStore.objects.all()}
        assert len(overview.services) == Service.objects.filter(category__slug="devops").count()
        for row in overview.services:
            assert not isinstance(row, Service)
            model = services[row.slug]
            for name in ("pk", "name", "summary", "role", "hidden", "location", "access", "icon"):
                assert getattr(row, name) == getattr(model, name), name
            assert row.get_role_display() == model.get_role_display()
            assert row.get_access_display() == model.get_access_display()
            assert overview.limit_of(row) == model.visible_to_groups
        for row in overview.data_stores:
            assert not isinstance(row, DataStore)
            model = stores[row.slug]
            for name in ("pk", "name", "kind", "description", "remark"):
                assert getattr(row, name) == getattr(model, name), name
            assert row.get_kind_display() == model.get_kind_display()
            assert overview.limit_of(row) == model.visible_to_groups
    jenkins = next(row for row in overview.services if row.slug == "jenkins")
    assert overview.limit_of(jenkins) == ["/platform/devops", "/ops/<night> & day"]
    # An item without a limit reads as one, [] to staff, whatever the row holds.
    assert any(row.visible_to_groups is None for row in overview.services)
