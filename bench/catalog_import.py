"""Catalog import at scale: `catalog import` of a generated file; prints time and queries.

    .venv/bin/python bench/catalog_import.py [--categories 10] [--services 200] [--stores 20]

Runs in-process on a fresh SQLite database (or DATABASE_URL; the catalog there is
replaced). Writes a catalog file of categories x (services + data stores) items (2,200
by default) and imports it three times: into an empty catalog (every row created), with
every service's and store's summary changed (every row updated, every talks_to and used_by
replaced), and unchanged (nothing to write). Then the same at half the size, to show the
query count does not grow with the rows. Goal: 2,200 items in under 2 s.
"""

import argparse
import tempfile
import time
from io import StringIO
from pathlib import Path

from _django import machine, setup


def import_file(path: Path) -> tuple[float, int, int]:
    """(seconds, queries, change lines) of one `catalog import`."""
    from django.core.management import call_command
    from django.db import connection

    queries = 0

    def count(execute, sql, params, many, context):
        nonlocal queries
        queries += 1
        return execute(sql, params, many, context)

    out = StringIO()
    # Counted rather than captured: the query log keeps only the last 9,000.
    with connection.execute_wrapper(count):
        start = time.perf_counter()
        call_command("catalog", "import", str(path), stdout=out)
        elapsed = time.perf_counter() - start
    return elapsed, queries, len(out.getvalue().splitlines())


def run(categories: int, services: int, stores: int, workdir: Path) -> None:
    from portal.catalog_io import dump_yaml
    from portal.models import Category
    from tests.factories import catalog_file_data

    Category.objects.all().delete()
    data = catalog_file_data(categories=categories, services=services, stores=stores)
    items = categories * (services + stores)
    path = workdir / f"catalog-{items}.yaml"
    path.write_text(dump_yaml(data), encoding="utf-8")
    created = import_file(path)
    for category in data["categories"]:
        following = [row["slug"] for row in category["services"][1:]] + [None]
        for row, calls in zip(category["services"], following, strict=True):
            row["summary"] += " (changed)"
            row["talks_to"] = [calls] if calls else []  # the next one, not the one before
        for row in category["data_stores"]:
            row["description"] += " (changed)"
            row["used_by"] = row["used_by"][:1]
    path.write_text(dump_yaml(data), encoding="utf-8")
    updated = import_file(path)
    unchanged = import_file(path)
    for label, (seconds, queries, lines) in (
        ("create", created),
        ("update", updated),
        ("no change", unchanged),
    ):
        print(
            f"{items:5d} items, {label:9s}: {seconds * 1000:8.1f} ms, {queries:6d} queries, "
            f"{lines} report lines"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--categories", type=int, default=10)
    parser.add_argument("--services", type=int, default=200)
    parser.add_argument("--stores", type=int, default=20)
    args = parser.parse_args()
    setup()
    print(f"machine: {machine()}")
    with tempfile.TemporaryDirectory(prefix="aixops-catalog-bench-") as workdir:
        run(args.categories, args.services, args.stores, Path(workdir))
        run(args.categories, args.services // 2, args.stores // 2, Path(workdir))
    print("goal: 2,200 items in < 2000 ms, queries independent of items")


if __name__ == "__main__":
    main()
