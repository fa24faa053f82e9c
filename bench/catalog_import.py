"""Catalog import at scale: `catalog import` of a generated file; prints time and queries.

    .venv/bin/python bench/catalog_import.py [--categories 10] [--services 200] [--stores 20]

Runs in-process on a fresh SQLite database (or DATABASE_URL; the catalog there is
replaced). Writes a catalog file of categories x (services + data stores) items (2,200
by default) and imports it three times: into an empty catalog (every row created), with
every row changed (every service's and store's text, links and every checklist), and
unchanged (nothing to write). Then the same at half the size, to show the
query count does not grow with the rows. Goal: 2,200 items in under 2 s.
"""

import argparse
import tempfile
import time
from io import StringIO
from pathlib import Path

from _django import machine, setup


def import_file(path: Path) -> tuple[float, float, int, int]:
    """(seconds, CPU seconds of this process, queries, change lines) of one
    `catalog import`."""
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
        start, cpu = time.perf_counter(), time.process_time()
        call_command("catalog", "import", str(path), stdout=out)
        elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu
    return elapsed, cpu, queries, len(out.getvalue().splitlines())


def run(categories: int, services: int, stores: int, workdir: Path) -> None:
    from portal.catalog_io import dump_yaml
    from portal.models import Category
    from tests.factories import catalog_file_data, change_every_row

    Category.objects.all().delete()
    data = catalog_file_data(categories=categories, services=services, stores=stores)
    items = categories * (services + stores)
    path = workdir / f"catalog-{items}.yaml"
    path.write_text(dump_yaml(data), encoding="utf-8")
    created = import_file(path)
    change_every_row(data)
    path.write_text(dump_yaml(data), encoding="utf-8")
    updated = import_file(path)
    unchanged = import_file(path)
    for label, (seconds, cpu, queries, lines) in (
        ("create", created),
        ("update", updated),
        ("no change", unchanged),
    ):
        print(
            f"{items:5d} items, {label:9s}: {seconds * 1000:7.1f} ms ({cpu * 1000:6.1f} ms CPU), "
            f"{queries:5d} queries, {lines} report lines"
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
