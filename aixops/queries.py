"""Lookups made on every page view, compiled once instead of on every request."""

from dataclasses import dataclass

from django.db import DEFAULT_DB_ALIAS, connections
from django.db.models.sql.compiler import SQLCompiler


@dataclass(frozen=True)
class _Compiled:
    sql: str
    params: tuple
    compiler: SQLCompiler
    converters: dict
    field_positions: list[int]
    attnames: list[str]
    annotations: dict[str, int]


class PreparedLookup:
    """One row of a model, read with SQL compiled once per database.

    Compiling a queryset (and finding the converters of its columns) costs several times
    what running a primary-key lookup does. The signed-in user and what a cached page
    depends on are read on every page view, so their queries are compiled once and then
    run like raw SQL, with the conversions the ORM applies to every row it reads.

    `make_queryset(*example_params)` builds the query. With example parameters, they must
    come out as its SQL parameters, in order, so that `first(*params)` can put others in
    their place; without, the query's own constants are used every time.
    """

    def __init__(self, make_queryset, *example_params):
        self._make_queryset = make_queryset
        self._example_params = example_params
        self._by_alias: dict[str, _Compiled] = {}

    def first(self, *params, using: str = DEFAULT_DB_ALIAS):
        """The first row as a model instance, with the selected fields and annotations
        loaded; or None."""
        compiled = self._by_alias.get(using) or self._compile(using)
        with connections[using].cursor() as cursor:
            cursor.execute(compiled.sql, params or compiled.params)
            row = cursor.fetchone()
        if row is None:
            return None
        if compiled.converters:
            [row] = compiled.compiler.apply_converters([row], compiled.converters)
        instance = compiled.compiler.query.model.from_db(
            using, compiled.attnames, [row[position] for position in compiled.field_positions]
        )
        for name, position in compiled.annotations.items():
            setattr(instance, name, row[position])
        return instance

    def _compile(self, using: str) -> _Compiled:
        queryset = self._make_queryset(*self._example_params).using(using)
        compiler = queryset.query.get_compiler(using)
        sql, params = compiler.as_sql()
        if self._example_params and tuple(params) != self._example_params:
            raise ValueError(
                f"the {queryset.model.__name__} lookup's parameters are {params!r}, "
                f"not {self._example_params!r}"
            )
        expressions = [expression for expression, _sql, _alias in compiler.select]
        field_positions = compiler.klass_info["select_fields"]
        compiled = self._by_alias[using] = _Compiled(
            sql=sql,
            params=tuple(params),
            compiler=compiler,
            converters=compiler.get_converters(expressions),
            field_positions=field_positions,
            attnames=[expressions[position].target.attname for position in field_positions],
            annotations=dict(compiler.annotation_col_map),
        )
        return compiled
