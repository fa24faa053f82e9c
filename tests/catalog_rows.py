"""The seed catalog as rows: what `loaddata catalog` writes, read once per test session and
written back in a few statements for each test that asks for the catalog (tests/conftest.py).

The command validates every row and looks up its natural keys, several queries a row;
writing its result back costs a statement a table.
"""

from django.apps import apps
from django.core.management import call_command
from django.core.management.color import no_style
from django.db import connection, transaction
from django.db.models import Model

Rows = dict[type[Model], list[dict]]


def every_row() -> dict[type[Model], dict[object, dict]]:
    """Every row of every table, by model and primary key: many-to-many tables too, proxy
    models once (through the model whose table they share), read by each model's base
    manager, which no custom default manager can filter."""
    return {
        model: {
            row[model._meta.pk.attname]: row
            for row in model._base_manager.values(
                *(field.attname for field in model._meta.concrete_fields)
            )
        }
        for model in apps.get_models(include_auto_created=True)
        if not model._meta.proxy
    }


def rows_written(before: dict, after: dict) -> Rows:
    """The rows `after` has and `before` had not, by model. A load that changed or deleted
    a row could not be replayed by inserting rows, so that fails here."""
    written = {}
    for model, rows in after.items():
        lost = [pk for pk, row in before[model].items() if rows.get(pk) != row]
        if lost:
            raise AssertionError(f"{model._meta.label}: rows {lost} changed or deleted")
        added = [row for pk, row in rows.items() if pk not in before[model]]
        if added:
            written[model] = added
    return written


def load_catalog_and_roll_back() -> Rows:
    """The rows the real command writes, in a transaction rolled back afterwards."""
    with transaction.atomic():
        before = every_row()
        call_command("loaddata", "catalog", verbosity=0)
        written = rows_written(before, every_row())
        transaction.set_rollback(True)
    return written


def write_rows(written: Rows) -> None:
    """Insert the rows with their primary keys, one statement per table, then move each
    table's id sequence past them as loaddata does, so that rows made next get fresh ids.

    Django creates foreign keys deferrable (PostgreSQL, SQLite): inside one transaction the
    tables can be written in any order."""
    with transaction.atomic():
        for model, rows in written.items():
            model._base_manager.bulk_create(model(**row) for row in rows)
        with connection.cursor() as cursor:
            for sql in connection.ops.sequence_reset_sql(no_style(), list(written)):
                cursor.execute(sql)
