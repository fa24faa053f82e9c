"""`catalog import` writes in bulk: the queries do not grow with the rows of the file, the
catalog revision moves once, and moving rows between categories still reads right."""

from io import StringIO

import pytest
import yaml
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext

from portal.catalog_io import dump_yaml
from portal.models import CatalogRevision, Category, ChecklistItem, DataStore, Service
from tests.factories import catalog_file_data, change_every_row


def run_import(path, *args) -> tuple[list[str], int]:
    """The report of one import and the queries it made."""
    out = StringIO()
    with CaptureQueriesContext(connection) as queries:
        call_command("catalog", "import", str(path), *args, stdout=out)
    return out.getvalue().splitlines(), len(queries)


# What change_every_row changes in each service.
SERVICE_CHANGES = "summary, public_badge, slo_target, slo_window_days"


def revision() -> int:
    return CatalogRevision.objects.get().number


def import_figures(tmp_path, *, services: int, stores: int) -> dict[str, int]:
    """The queries of importing a generated catalog into an empty one, with every row
    changed, unchanged, and pruned to one category, at the given size."""
    Category.objects.all().delete()
    CatalogRevision.bump()  # made once, on the first catalog write: not the import's work
    data = catalog_file_data(categories=3, services=services, stores=stores)
    path = tmp_path / f"catalog-{services}.yaml"
    path.write_text(dump_yaml(data), encoding="utf-8")
    figures = {}
    _, figures["create"] = run_import(path)
    change_every_row(data)
    path.write_text(dump_yaml(data), encoding="utf-8")
    _, figures["update"] = run_import(path)
    assert set(Service.objects.values_list("public_badge", "slo_target", "slo_window_days")) == {
        (True, 99.5, 7)
    }
    assert set(DataStore.objects.values_list("public_badge", "slo_target", "slo_window_days")) == {
        (True, 99.9, 30)
    }
    _, figures["unchanged"] = run_import(path)
    data["categories"] = data["categories"][:1]
    path.write_text(dump_yaml(data), encoding="utf-8")
    _, figures["prune"] = run_import(path, "--prune")
    assert Service.objects.count() == services
    return figures


def test_import_queries_do_not_grow_with_the_rows(db, tmp_path):
    # Small enough that no bulk statement is split into batches: SQLite takes only so many
    # parameters in one statement (PostgreSQL takes 2,200 rows whole: bench/catalog_import.py).
    assert import_figures(tmp_path, services=10, stores=4) == import_figures(
        tmp_path, services=20, stores=8
    )


def test_an_import_moves_the_catalog_revision_once(db, tmp_path):
    data = catalog_file_data(categories=2, services=15, stores=5)
    path = tmp_path / "catalog.yaml"
    path.write_text(dump_yaml(data), encoding="utf-8")
    call_command("catalog", "export", stdout=StringIO())  # no write: no revision yet
    run_import(path)
    first = revision()
    change_every_row(data)
    path.write_text(dump_yaml(data), encoding="utf-8")
    changes, _ = run_import(path)
    assert len(changes) == 2 * (15 + 5 + 1) + 2 * 15 + 2 * 5 - 2  # less service 0's links
    assert revision() == first + 1
    run_import(path)
    assert revision() == first + 1  # nothing to change, nothing moved


def test_a_dry_run_of_a_large_file_writes_nothing(db, tmp_path):
    path = tmp_path / "catalog.yaml"
    path.write_text(
        dump_yaml(catalog_file_data(categories=2, services=30, stores=6)), encoding="utf-8"
    )
    changes, _ = run_import(path, "--dry-run")
    assert "+ service cat-1-service-29" in changes
    assert changes[-1] == "Dry run: nothing was written."
    assert not Service.objects.exists() and not CatalogRevision.objects.exists()


def test_rows_moved_into_a_new_category_are_reported_and_linked(catalog, tmp_path):
    out = StringIO()
    call_command("catalog", "export", stdout=out)
    data = yaml.safe_load(out.getvalue())
    devops = data["categories"][0]
    flower = next(s for s in devops["services"] if s["slug"] == "flower")
    store = devops["data_stores"][0]
    devops["services"].remove(flower)
    devops["data_stores"].remove(store)
    for other in devops["services"]:
        other["talks_to"] = [slug for slug in other["talks_to"] if slug != "flower"]
    data["categories"].append(
        {
            "slug": "monitoring",
            "name": "Monitoring",
            "title": "Monitoring Guide",
            "summary": "Watching the platform",
            "services": [flower],
            "data_stores": [{**store, "used_by": ["flower"]}],
            "checklist": ["Flower shows the workers"],
        }
    )
    path = tmp_path / "catalog.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")

    changes, _ = run_import(path)
    assert "+ category monitoring" in changes
    assert "~ service flower: category, position" in changes
    assert f"~ data store {store['slug']}: category" in changes  # first in both
    assert "~ category monitoring: checklist (0 → 1)" in changes
    monitoring = Category.objects.get(slug="monitoring")
    assert Service.objects.get(slug="flower").category == monitoring
    moved = DataStore.objects.get(slug=store["slug"])
    assert moved.category == monitoring
    assert list(moved.used_by.values_list("slug", flat=True)) == ["flower"]
    checklist = ChecklistItem.objects.filter(category=monitoring)
    assert list(checklist.values_list("text", flat=True)) == ["Flower shows the workers"]
    assert run_import(path)[0] == ["No changes."]


@pytest.mark.parametrize("prune", [False, True])
def test_reimporting_a_large_file_changes_nothing(db, tmp_path, prune):
    path = tmp_path / "catalog.yaml"
    path.write_text(
        dump_yaml(catalog_file_data(categories=2, services=40, stores=8)), encoding="utf-8"
    )
    run_import(path)
    args = ["--prune"] if prune else []
    assert run_import(path, *args)[0] == ["No changes."]


def test_the_report_follows_the_files_order(db, tmp_path):
    data = catalog_file_data(categories=2, services=2, stores=1)
    path = tmp_path / "catalog.yaml"
    path.write_text(dump_yaml(data), encoding="utf-8")
    run_import(path)
    change_every_row(data)
    for category in data["categories"]:
        category["data_stores"][0]["used_by"] = [category["services"][1]["slug"]]
    path.write_text(dump_yaml(data), encoding="utf-8")
    assert run_import(path)[0] == [
        *(
            line
            for c in (0, 1)
            for line in (
                f"~ service cat-{c}-service-0: {SERVICE_CHANGES}",
                f"~ service cat-{c}-service-1: {SERVICE_CHANGES}",
                f"~ data store cat-{c}-store-0: description, public_badge, slo_target",
                f"~ category cat-{c}: checklist (3 → 4)",
            )
        ),
        *(
            line
            for c in (0, 1)
            for line in (
                f"~ service cat-{c}-service-0: talks_to",
                f"~ service cat-{c}-service-1: talks_to",
                f"~ data store cat-{c}-store-0: used_by",
            )
        ),
    ]
