"""The `catalog` fixture (tests/conftest.py) writes back what `loaddata catalog` writes:
every table, field by field, and rows made afterwards get fresh ids."""

from datetime import UTC, datetime

import pytest
from django.core.cache import cache
from django.core.management import call_command
from django.db import transaction

from portal.models import Category, ChecklistItem, Service
from portal.state_cache import PAGE_STATE_KEY
from tests.catalog_rows import every_row

LOADED_AT = datetime(2026, 3, 1, 9, 30, tzinfo=UTC)

# In a transaction rolled back after the test; committed, as live_server tests are; and
# committed with the id sequences started again, behind the ids the fixture writes.
every_kind_of_test = pytest.mark.parametrize(
    "kind",
    [
        pytest.param("rolled back", marks=pytest.mark.django_db, id="db"),
        pytest.param(
            "committed", marks=pytest.mark.django_db(transaction=True), id="transactional_db"
        ),
        pytest.param(
            "sequences reset",
            marks=pytest.mark.django_db(transaction=True, reset_sequences=True),
            id="reset_sequences",
        ),
    ],
)


def numbered(tables: dict) -> dict:
    """Every table's rows in id order, each id (its own and those its foreign keys hold)
    replaced by its row's place in that order: ids come from sequences, which PostgreSQL
    never rolls back, so a second load of the same rows gets other ids."""
    places = {
        model: {pk: place for place, pk in enumerate(sorted(rows))}
        for model, rows in tables.items()
    }
    numbered_tables = {}
    for model, rows in tables.items():
        keys = {model._meta.pk.attname: model}
        keys.update(
            (field.attname, field.related_model)
            for field in model._meta.concrete_fields
            if field.is_relation
        )
        numbered_tables[model._meta.label] = [
            {
                name: places[keys[name]][value] if name in keys and value is not None else value
                for name, value in rows[pk].items()
            }
            for pk in sorted(rows)
        ]
    return numbered_tables


@every_kind_of_test
def test_fixture_writes_what_the_command_writes(kind, catalog_rows, request, monkeypatch):
    # The command stamps the catalog revision with the time it loads; so does the fixture
    # (catalog_rows, loaded before the clock stops, holds another time).
    monkeypatch.setattr("django.utils.timezone.now", lambda: LOADED_AT)
    with transaction.atomic():
        call_command("loaddata", "catalog", verbosity=0)
        by_command = every_row()
        transaction.set_rollback(True)
    assert Category.objects.count() == 0

    request.getfixturevalue("catalog")

    assert numbered(every_row()) == numbered(by_command)


@every_kind_of_test
def test_rows_made_after_the_fixture_get_fresh_ids(kind, catalog):
    devops = Category.objects.get(slug="devops")
    last_ids = {
        model: model.objects.order_by("-pk").values_list("pk", flat=True)[0]
        for model in (Category, Service, ChecklistItem, Service.talks_to.through)
    }

    category = Category.objects.create(slug="new", name="New", title="New", summary="New")
    service = Service.objects.create(category=devops, slug="new", name="New", location="/new")
    item = ChecklistItem.objects.create(category=devops, position=99, text="New")
    service.talks_to.add(Service.objects.get(slug="gitlab"))

    assert category.pk > last_ids[Category]
    assert service.pk > last_ids[Service]
    assert item.pk > last_ids[ChecklistItem]
    assert service.talks_to.through.objects.latest("pk").pk > last_ids[Service.talks_to.through]


@pytest.mark.django_db
def test_fixture_forgets_the_cached_page_state(request):
    # As the command's writes do (portal.signals), for a page state cached before the load.
    cache.set(PAGE_STATE_KEY, "before the catalog")

    request.getfixturevalue("catalog")

    assert cache.get(PAGE_STATE_KEY) is None
