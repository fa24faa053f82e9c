"""Many rows written in one statement: sent as one JSON array of arrays, the statement's
one parameter, and read back as a table by the database (PostgreSQL's
jsonb_array_elements, SQLite's json_each).

A scan writes a row per check in a few such statements (portal/scans.py,
portal/rollups.py): the statement stays the same size whatever the number of checks, no
value goes through the ORM one by one, and an UPDATE sends only the columns it sets.
bulk_create() builds its statement value by value and, to upsert, must send every column
of every row for the INSERT half; bulk_update() builds a CASE per column per row, whose
cost grows with the square of the rows (bench/history.py measures the write).
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any

from django.db import connection, models

# The alias the rows are read under: `FROM {source()}`, then `sent.value` is one row.
ALIAS = "sent"


def source() -> str:
    """The FROM item that reads the document (the `%s` parameter) as rows."""
    if connection.vendor == "postgresql":
        return f"jsonb_array_elements(%s::jsonb) AS {ALIAS}(value)"
    return f"json_each(%s) AS {ALIAS}"


def value(index: int, sql_type: str) -> str:
    """The expression of a row's `index`-th value as `sql_type`: cast from its text on
    PostgreSQL; as json_extract types it on SQLite, which stores what it is given."""
    if connection.vendor == "postgresql":
        return f"CAST({ALIAS}.value ->> {index} AS {sql_type})"
    return f"json_extract({ALIAS}.value, '$[{index}]')"


def insert(model: type[models.Model], objects: list[Any], names: list[str]) -> None:
    """INSERT the `names` fields of `objects` (their primary keys left to the database):
    model instances, or any objects with those fields' attributes (`attname`)."""
    fields = [model._meta.get_field(name) for name in names]
    quote = connection.ops.quote_name
    columns = ", ".join(quote(field.column) for field in fields)
    values = ", ".join(_field_value(index, field) for index, field in enumerate(fields))
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {quote(model._meta.db_table)} ({columns}) "  # noqa: S608 - names from the model
            f"SELECT {values} FROM {source()}",
            [_document(objects, fields)],
        )


def update(model: type[models.Model], objects: list[models.Model], names: list[str]) -> None:
    """UPDATE the `names` fields of `objects`, each row by its primary key; the other
    columns are left as the database has them."""
    fields = [model._meta.pk, *(model._meta.get_field(name) for name in names)]
    quote = connection.ops.quote_name
    table = quote(model._meta.db_table)
    assignments = ", ".join(
        f"{quote(field.column)} = {_field_value(index, field)}"
        for index, field in enumerate(fields)
        if index
    )
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {table} SET {assignments} FROM {source()} "  # noqa: S608 - names from the model
            f"WHERE {table}.{quote(fields[0].column)} = {_field_value(0, fields[0])}",
            [_document(objects, fields)],
        )


def _field_value(index: int, field: models.Field) -> str:
    return value(index, field.db_type(connection))


def _document(objects: list[Any], fields: list[models.Field]) -> str:
    encoders = [_encoder(field) for field in fields]
    return document(
        [
            encode(getattr(row, field.attname))
            for field, encode in zip(fields, encoders, strict=True)
        ]
        for row in objects
    )


def _encoder(field: models.Field) -> Callable[[Any], Any]:
    """How a value of `field` goes into the document: JSON fields as their JSON text
    (stored as such on SQLite, cast to jsonb on PostgreSQL), date-times as the database
    reads them, anything else as it is."""
    if isinstance(field, models.JSONField):
        return json.dumps
    if isinstance(field, models.DateTimeField):
        # Rows written together mostly share their date-times (a scan's `now`): each
        # distinct one is adapted once.
        return functools.cache(connection.ops.adapt_datetimefield_value)
    return _as_it_is


def _as_it_is(value: Any) -> Any:
    return value


def document(rows: Iterable[list]) -> str:
    """The rows as the statement's parameter."""
    return json.dumps(list(rows), default=datetime.isoformat)
