"""Django's loaddata, refusing invalid or duplicated rows instead of writing them.

Stock loaddata saves rows without model validation, and with natural keys a
second row carrying the same slug silently overwrites the first. Here every
row is validated (fields, validators, constraints, and no NUL in any text: PostgreSQL
cannot store it, SQLite would) and every natural key may appear once per run; the first
problem aborts the whole load, which runs in a single transaction, so nothing is
half-written. YAML files are read by aixops.yaml_serializer (no aliases, bounded size and
nesting).
"""

from django.core.exceptions import ValidationError
from django.core.management.base import CommandError
from django.core.management.commands import loaddata
from django.core.validators import ProhibitNullCharactersValidator

prohibit_null_characters = ProhibitNullCharactersValidator()


class FixtureRowError(ValueError):
    """A fixture row that must not be loaded; the message names the row and the field."""


class Command(loaddata.Command):
    def loaddata(self, fixture_labels):
        self.seen_natural_keys = set()
        try:
            super().loaddata(fixture_labels)
        except CommandError:
            raise
        except Exception as error:
            # Stock loaddata already prefixes the fixture's file; show that, not a traceback.
            raise CommandError(str(error)) from error

    def save_obj(self, obj):
        instance = obj.object
        label = instance._meta.label_lower
        row = _describe(instance)
        if hasattr(instance, "natural_key"):
            key = (label, tuple(instance.natural_key()))
            if key in self.seen_natural_keys:
                raise FixtureRowError(f"{label} {row}: duplicate natural key {key[1]!r}.")
            self.seen_natural_keys.add(key)
        if instance.pk is not None:
            # The row came with a pk, or its natural key matched a stored row: unique
            # checks must then not count the stored row as a clash with itself.
            manager = type(instance)._default_manager.using(self.using)
            instance._state.adding = not manager.filter(pk=instance.pk).exists()
        problems = _null_character_problems(instance)
        # Forward references are resolved after every row is saved; skip them here. Text
        # with NUL is not validated further: a unique check would send it to the database.
        exclude = [field.name for field in obj.deferred_fields or ()] + list(problems)
        try:
            instance.full_clean(exclude=exclude)
        except ValidationError as error:
            problems.update(error.message_dict)
        if problems:
            described = "; ".join(
                f"{field}: {' '.join(messages)}" for field, messages in problems.items()
            )
            raise FixtureRowError(f"{label} {row}: {described}")
        return super().save_obj(obj)


def _null_character_problems(instance) -> dict[str, list[str]]:
    problems = {}
    for field in instance._meta.concrete_fields:
        value = field.value_from_object(instance)
        if isinstance(value, str):
            try:
                prohibit_null_characters(value)
            except ValidationError as error:
                problems[field.name] = error.messages
    return problems


def _describe(instance) -> str:
    slug = getattr(instance, "slug", None)
    if slug:
        return repr(slug)
    try:
        return repr(instance.natural_key())
    except Exception:  # a row too broken to name itself is named by its pk
        return f"(pk={instance.pk})"
