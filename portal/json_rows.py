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
import operator
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


def json_value(index: int) -> str:
    """The expression of a row's `index`-th value as JSON, for a JSONField's column: as it
    is in the document (jsonb on PostgreSQL, JSON text on SQLite), not sent as a string
    of JSON to be parsed a second time."""
    return f"({ALIAS}.value -> {index})"


class AmongKeys(models.Lookup):
    """`AmongKeys(F("pk"), keys)` in filter(): the column is one of `keys` (a list of
    ints), sent as one parameter however many, where `pk__in` binds, sends and parses
    one per key. On PostgreSQL an array, which the planner counts (one hashed test per
    row); on SQLite the keys' JSON document."""

    lookup_name = "among_keys"
    prepare_rhs = False

    def as_sql(self, compiler, connection):
        lhs, params = self.process_lhs(compiler, connection)
        if connection.vendor == "postgresql":
            sql_type = self.lhs.output_field.db_type(connection)
            keys = "{" + ",".join(str(int(key)) for key in self.rhs) + "}"
            return f"{lhs} = ANY(CAST(%s AS {sql_type}[]))", [*params, keys]
        return f"{lhs} IN (SELECT value FROM json_each(%s))", [*params, json.dumps(self.rhs)]  # noqa: S608 - a column


# Field names and the value every row shares.
Shared = dict[str, Any] | None
# JSON list fields, each with the field whose new value is added at its end and how many
# of its last items it keeps.
Appended = dict[str, tuple[str, int]] | None


def insert(
    model: type[models.Model], objects: list[Any], names: list[str], *, same: Shared = None
) -> None:
    """INSERT the `names` fields of `objects` (their primary keys left to the database):
    model instances, or any objects with those fields' attributes (`attname`). `same`:
    fields whose value every row shares (a scan's, its time), sent once, not once a row."""
    fields = [model._meta.get_field(name) for name in names]
    shared, shared_params = _shared(model, same)
    quote = connection.ops.quote_name
    columns = ", ".join(quote(field.column) for field in [*fields, *(f for f, _sql in shared)])
    values = ", ".join(
        [
            *(_field_value(index, field) for index, field in enumerate(fields)),
            *(sql for _field, sql in shared),
        ]
    )
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {quote(model._meta.db_table)} ({columns}) "  # noqa: S608 - names from the model
            f"SELECT {values} FROM {source()}",
            [*shared_params, _document(objects, fields)],
        )


def update(
    model: type[models.Model],
    objects: list[models.Model],
    names: list[str],
    *,
    same: Shared = None,
    appended: Appended = None,
) -> None:
    """UPDATE the `names` fields of `objects`, each row by its primary key; the other
    columns are left as the database has them. `same`: fields set to the same value in
    every row, sent once. `appended`: JSON list fields that the objects hold as the
    database has them with the new value of another of `names` added at the end, the
    last so many kept; PostgreSQL adds it to the list it has, so the lists are not sent
    (parsing their numbers into jsonb cost more than the rest of a scan's document)."""
    appended = appended or {}
    if connection.vendor != "postgresql":
        names, appended = [*names, *appended], {}
    fields = [model._meta.pk, *(model._meta.get_field(name) for name in names)]
    shared, shared_params = _shared(model, same)
    quote = connection.ops.quote_name
    table = quote(model._meta.db_table)
    assignments = [
        *(
            f"{quote(field.column)} = {_field_value(index, field)}"
            for index, field in enumerate(fields)
            if index
        ),
        *(f"{quote(field.column)} = {sql}" for field, sql in shared),
    ]
    index_of = {field.name: index for index, field in enumerate(fields)}
    for name, (added, keep) in appended.items():
        column = quote(model._meta.get_field(name).column)
        kept = _kept_last(f"{table}.{column}", index_of[added], keep)
        assignments.append(f"{column} = {kept}")
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {table} SET {', '.join(assignments)} FROM {source()} "  # noqa: S608 - names from the model
            f"WHERE {table}.{quote(fields[0].column)} = {_field_value(0, fields[0])}",
            [*shared_params, _document(objects, fields)],
        )


def _kept_last(column: str, index: int, keep: int) -> str:
    """PostgreSQL: the JSON list in `column` with the row's `index`-th value added at its
    end, its last `keep` items (as Python's `[*items, value][-keep:]`)."""
    return (
        f"jsonb_path_query_array({column} || jsonb_build_array({json_value(index)}), "
        f"'$[last - {int(keep) - 1} to last]')"
    )


def _shared(
    model: type[models.Model], same: Shared
) -> tuple[list[tuple[models.Field, str]], list[Any]]:
    """The fields of `same`, each with its placeholder's SQL, and their parameters."""
    fields = [model._meta.get_field(name) for name in same or {}]
    if connection.vendor == "postgresql":
        sql = ["CAST(%s AS " + field.db_type(connection) + ")" for field in fields]
    else:
        sql = ["%s" for _field in fields]  # SQLite stores what it is given, as value()
    params = [field.get_db_prep_save(same[field.name], connection) for field in fields]
    return list(zip(fields, sql, strict=True)), params


def _field_value(index: int, field: models.Field) -> str:
    if isinstance(field, models.JSONField):
        return json_value(index)
    return value(index, field.db_type(connection))


def _document(objects: list[Any], fields: list[models.Field]) -> str:
    # All of a row's values in one call, then only those that need it encoded: a scan
    # sends thousands of rows of a dozen values each.
    values = operator.attrgetter(*(field.attname for field in fields))
    encoders = [
        (index, encode)
        for index, encode in enumerate(_encoder(field) for field in fields)
        if encode is not None
    ]
    if len(fields) == 1:
        rows = [[values(row)] for row in objects]
    else:
        rows = [list(values(row)) for row in objects]
    for index, encode in encoders:
        for row in rows:
            row[index] = encode(row[index])
    return document(rows)


def _encoder(field: models.Field) -> Callable[[Any], Any] | None:
    """How a value of `field` goes into the document, if not as it is: date-times as the
    database reads them. JSON fields' values go in as they are, nested JSON."""
    if isinstance(field, models.DateTimeField):
        # Rows written together mostly share their date-times (a scan's `now`): each
        # distinct one is adapted and printed once, not once a row.
        return functools.cache(_datetime_text)
    return None


def _datetime_text(value: datetime | None) -> str | None:
    value = connection.ops.adapt_datetimefield_value(value)
    return value.isoformat() if isinstance(value, datetime) else value


def document(rows: Iterable[list]) -> str:
    """The rows as the statement's parameter."""
    return json.dumps(list(rows), default=datetime.isoformat, separators=(",", ":"))
