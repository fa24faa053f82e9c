"""The catalog as code: export it to YAML, and import a YAML file back, validated first.

The file's shape (one entry per category, its services, data stores and texts nested
under it; slugs as keys, list order as display order):

    version: 1
    categories:
    - slug: devops
      name: DevOps
      title: DevOps Guide
      summary: ...
      description: ...
      position: 10
      services:
      - {slug: gitlab, name: GitLab, summary: ..., role: menu, hidden: false,
         location: /gitlab, access: keycloak_oidc, talks_to: []}
      data_stores:
      - {slug: gitlab-postgresql, name: ..., kind: relational, description: ...,
         remark: '', used_by: [gitlab]}
      focus_areas: [...]
      checklist: [...]
      config_notes:
      - {text: ..., access_touchpoint: true}

An import checks the whole file before it writes anything (the file itself through
aixops.bounded_yaml: size, encoding, no aliases, bounded nesting), then applies it in one
transaction and reports every change. Services and stores are matched by slug;
focus areas, checklists and notes are replaced as whole lists.
"""

from __future__ import annotations

import reprlib
from dataclasses import dataclass, field
from pathlib import Path

import yaml
from django.core.exceptions import ValidationError
from django.core.validators import ProhibitNullCharactersValidator
from django.db import transaction

from aixops import bounded_yaml

from .models import (
    CatalogRevision,
    Category,
    ChecklistItem,
    ConfigNote,
    DataStore,
    FocusArea,
    Service,
    validate_talks_to,
)

FORMAT_VERSION = 1
POSITION_STEP = 10

CATEGORY_FIELDS = ["slug", "name", "title", "summary", "description", "position"]
SERVICE_FIELDS = ["slug", "name", "summary", "role", "hidden", "location", "access"]
STORE_FIELDS = ["slug", "name", "kind", "description", "remark"]
CATEGORY_LISTS = ["services", "data_stores", "focus_areas", "checklist", "config_notes"]
TEXT_LISTS = {
    "focus_areas": FocusArea,
    "checklist": ChecklistItem,
    "config_notes": ConfigNote,
}

REQUIRED = {
    "category": {"slug", "name", "title", "summary"},
    "service": {"slug", "name", "summary"},
    "data store": {"slug", "name", "kind", "description"},
}
ALLOWED = {
    "category": set(CATEGORY_FIELDS) | set(CATEGORY_LISTS),
    "service": {*SERVICE_FIELDS, "talks_to"},
    "data store": {*STORE_FIELDS, "used_by"},
    "config note": {"text", "access_touchpoint"},
}
FIELD_TYPES = {"position": int, "hidden": bool, "access_touchpoint": bool}
# PostgreSQL text cannot hold NUL; Django's forms refuse it, model validation does not.
prohibit_null_characters = ProhibitNullCharactersValidator()
# A wrong value is quoted in its message, cut short: it may be a whole file's worth.
_short = reprlib.Repr()
_short.maxstring = _short.maxother = 60
short_repr = _short.repr


class CatalogFileError(Exception):
    """The file cannot be imported; `problems` name the file, the entry and the field."""

    def __init__(self, problems: list[str]):
        super().__init__("\n".join(problems))
        self.problems = problems


# --- export ---------------------------------------------------------------------------


def export_catalog() -> dict:
    """The whole catalog as plain data, in display order."""
    services_by_category: dict[int, list[Service]] = {}
    for service in Service.objects.prefetch_related("talks_to").order_by("position", "slug"):
        services_by_category.setdefault(service.category_id, []).append(service)
    stores_by_category: dict[int, list[DataStore]] = {}
    for store in DataStore.objects.prefetch_related("used_by").order_by("position", "slug"):
        stores_by_category.setdefault(store.category_id, []).append(store)
    texts: dict[tuple[str, int], list] = {}
    for key, model in TEXT_LISTS.items():
        for item in model.objects.order_by("position"):
            texts.setdefault((key, item.category_id), []).append(item)

    categories = []
    for category in Category.objects.order_by("position", "slug"):
        entry = {name: getattr(category, name) for name in CATEGORY_FIELDS}
        entry["services"] = [
            {
                **{name: getattr(service, name) for name in SERVICE_FIELDS},
                "talks_to": sorted(other.slug for other in service.talks_to.all()),
            }
            for service in services_by_category.get(category.pk, [])
        ]
        entry["data_stores"] = [
            {
                **{name: getattr(store, name) for name in STORE_FIELDS},
                "used_by": sorted(user.slug for user in store.used_by.all()),
            }
            for store in stores_by_category.get(category.pk, [])
        ]
        entry["focus_areas"] = [i.text for i in texts.get(("focus_areas", category.pk), [])]
        entry["checklist"] = [i.text for i in texts.get(("checklist", category.pk), [])]
        entry["config_notes"] = [
            {"text": note.text, "access_touchpoint": note.is_access_touchpoint}
            for note in texts.get(("config_notes", category.pk), [])
        ]
        categories.append(entry)
    return {"version": FORMAT_VERSION, "categories": categories}


def dump_yaml(data: dict) -> str:
    return yaml.safe_dump(data, allow_unicode=True, sort_keys=False, width=100)


# --- import: validation -----------------------------------------------------------------


@dataclass
class CategoryPlan:
    """One category of the file, checked and turned into unsaved rows."""

    category: Category
    services: list[tuple[Service, list[str]]] = field(default_factory=list)
    stores: list[tuple[DataStore, list[str]]] = field(default_factory=list)
    texts: dict[str, list[tuple[str, bool]]] = field(default_factory=dict)


@dataclass
class ImportPlan:
    categories: list[CategoryPlan]
    prune: bool


def read_catalog_file(path: str | Path, *, prune: bool = False) -> ImportPlan:
    """Parse and check a catalog file completely; raise CatalogFileError listing every problem."""
    source = str(path)
    try:
        with Path(path).open("rb") as file:
            data = bounded_yaml.load(file)
    except OSError as error:
        raise CatalogFileError([f"{source}: cannot read: {error.strerror}"]) from None
    except bounded_yaml.YAMLInputError as error:
        line = f" (line {error.line})" if error.line else ""
        raise CatalogFileError([f"{source}{line}: {error.problem}"]) from None
    return check_catalog(data, source=source, prune=prune)


def check_catalog(data, *, source: str, prune: bool = False) -> ImportPlan:
    problems: list[str] = []
    if not isinstance(data, dict) or not isinstance(data.get("categories"), list):
        raise CatalogFileError([f"{source}: expected a mapping with a 'categories' list"])
    unknown = set(data) - {"version", "categories"}
    if unknown:
        problems.append(f"{source}: unknown top-level keys: {', '.join(sorted(unknown))}")
    if data.get("version", FORMAT_VERSION) != FORMAT_VERSION:
        problems.append(f"{source}: version: only version {FORMAT_VERSION} is understood")

    plans = []
    seen: dict[str, set[str]] = {"category": set(), "service": set(), "data store": set()}
    for index, entry in enumerate(data["categories"]):
        where = f"{source}: categories[{index}]"
        plan = _check_category(entry, where, seen, problems)
        if plan is not None:
            plans.append(plan)

    _check_references(plans, source, prune, problems)
    if problems:
        raise CatalogFileError(problems)
    return ImportPlan(categories=plans, prune=prune)


def _check_entry(entry, kind: str, where: str, problems: list[str]) -> bool:
    if not isinstance(entry, dict):
        problems.append(f"{where}: expected a mapping")
        return False
    ok = True
    for key in sorted(set(entry) - ALLOWED[kind]):
        problems.append(f"{where}: {key}: unknown field")
        ok = False
    for key in sorted(REQUIRED.get(kind, set()) - set(entry)):
        problems.append(f"{where}: {key}: this field is required")
        ok = False
    for key, value in entry.items():
        expected = FIELD_TYPES.get(key)
        if expected and not _has_type(value, expected):
            got = short_repr(value)
            problems.append(f"{where}: {key}: expected {expected.__name__}, got {got}")
            ok = False
        elif key in ("talks_to", "used_by") and not (
            isinstance(value, list) and all(isinstance(v, str) for v in value)
        ):
            problems.append(f"{where}: {key}: expected a list of slugs")
            ok = False
        elif (
            not expected
            and key not in ("talks_to", "used_by", *CATEGORY_LISTS)
            and not isinstance(value, str)
        ):
            problems.append(f"{where}: {key}: expected text, got {short_repr(value)}")
            ok = False
        elif isinstance(value, str) and not _storable_text(value, f"{where}: {key}", problems):
            ok = False
    return ok


def _storable_text(text: str, where: str, problems: list[str]) -> bool:
    try:
        prohibit_null_characters(text)
    except ValidationError as error:
        problems.append(f"{where}: {' '.join(error.messages)}")
        return False
    return True


def _has_type(value, expected: type) -> bool:
    # YAML's true/false are Python bools, and bool is a subclass of int: keep them apart.
    if expected is int:
        return isinstance(value, int) and not isinstance(value, bool)
    return isinstance(value, expected)


def _validate(instance, where: str, exclude: list[str], problems: list[str]) -> None:
    try:
        instance.full_clean(exclude=exclude, validate_unique=False, validate_constraints=False)
    except ValidationError as error:
        for name, messages in error.message_dict.items():
            problems.append(f"{where}: {name}: {' '.join(messages)}")


def _named(where: str, entry) -> str:
    """An entry's place in the file, with its slug once it has one."""
    if isinstance(entry, dict) and isinstance(entry.get("slug"), str):
        return f"{where} {entry['slug']!r}"
    return where


def _note_slug(kind: str, slug, where: str, seen, problems) -> None:
    if slug in seen[kind]:
        problems.append(f"{where}: slug: duplicate {kind} slug {slug!r}")
    seen[kind].add(slug)


def _check_category(entry, where, seen, problems) -> CategoryPlan | None:
    where = _named(where, entry)
    if not _check_entry(entry, "category", where, problems):
        return None
    _note_slug("category", entry["slug"], where, seen, problems)
    category = Category(**{name: entry[name] for name in CATEGORY_FIELDS if name in entry})
    _validate(category, where, [], problems)
    plan = CategoryPlan(category=category)

    for name in CATEGORY_LISTS:
        if not isinstance(entry.get(name, []), list):
            problems.append(f"{where}: {name}: expected a list")
            return plan

    plan.services = _check_rows(
        entry, "services", Service, "service", SERVICE_FIELDS, "talks_to", where, seen, problems
    )
    plan.stores = _check_rows(
        entry,
        "data_stores",
        DataStore,
        "data store",
        STORE_FIELDS,
        "used_by",
        where,
        seen,
        problems,
    )

    for name in ("focus_areas", "checklist"):
        plan.texts[name] = []
        for index, text in enumerate(entry.get(name, [])):
            item_where = f"{where} > {name}[{index}]"
            if not isinstance(text, str) or not text.strip():
                problems.append(f"{item_where}: expected non-empty text")
            elif _storable_text(text, item_where, problems):
                plan.texts[name].append((text, False))
    plan.texts["config_notes"] = []
    for index, note in enumerate(entry.get("config_notes", [])):
        note_where = f"{where} > config_notes[{index}]"
        if isinstance(note, str):
            note = {"text": note}
        if not _check_entry(note, "config note", note_where, problems):
            continue
        if not note.get("text", "").strip():
            problems.append(f"{note_where}: text: this field is required")
            continue
        plan.texts["config_notes"].append((note["text"], note.get("access_touchpoint", False)))
    return plan


def _check_rows(entry, key, model, kind, fields, links, where, seen, problems) -> list:
    """A category's services or data stores as unsaved rows, each with its linked slugs;
    list order becomes display order."""
    rows = []
    for index, item in enumerate(entry.get(key, [])):
        item_where = _named(f"{where} > {key}[{index}]", item)
        if not _check_entry(item, kind, item_where, problems):
            continue
        _note_slug(kind, item["slug"], item_where, seen, problems)
        row = model(
            position=(index + 1) * POSITION_STEP,
            **{name: item[name] for name in fields if name in item},
        )
        _validate(row, item_where, ["category"], problems)
        rows.append((row, item.get(links, [])))
    return rows


def _check_references(plans, source, prune, problems) -> None:
    """talks_to and used_by must name services in the file, or (without --prune) stored ones;
    a service does not talk to itself."""
    known = {service.slug for plan in plans for service, _ in plan.services}
    if not prune:
        known |= set(Service.objects.values_list("slug", flat=True))
    for plan in plans:
        where = f"{source}: categories {plan.category.slug!r}"
        for service, talks_to in plan.services:
            try:
                validate_talks_to(service.slug, talks_to)
            except ValidationError as error:
                problems.append(
                    f"{where} > service {service.slug!r}: talks_to: {' '.join(error.messages)}"
                )
            for slug in talks_to:
                if slug not in known:
                    problems.append(
                        f"{where} > service {service.slug!r}: talks_to: no service {slug!r}"
                    )
        for store, used_by in plan.stores:
            for slug in used_by:
                if slug not in known:
                    problems.append(
                        f"{where} > data store {store.slug!r}: used_by: no service {slug!r}"
                    )


# --- import: applying -------------------------------------------------------------------


def apply_import(plan: ImportPlan, *, dry_run: bool = False) -> list[str]:
    """Apply a checked plan in one transaction; return one line per change.

    With dry_run the same work is done and then rolled back, so the report is exact.
    """
    changes: list[str] = []
    try:
        with transaction.atomic():
            _apply(plan, changes)
            if dry_run:
                raise _DryRun
            if changes:
                CatalogRevision.bump()
    except _DryRun:
        pass
    return changes


class _DryRun(Exception):
    """Unwinds the transaction of a dry run."""


def _upsert(model, slug: str, values: dict, label: str, changes: list[str]):
    existing = model.objects.filter(slug=slug).first()
    if existing is None:
        row = model.objects.create(slug=slug, **values)
        changes.append(f"+ {label} {slug}")
        return row
    changed = [name for name, value in values.items() if getattr(existing, name) != value]
    if changed:
        for name in changed:
            setattr(existing, name, values[name])
        existing.save(update_fields=changed)
        changes.append(f"~ {label} {slug}: {', '.join(n.removesuffix('_id') for n in changed)}")
    return existing


def _apply(plan: ImportPlan, changes: list[str]) -> None:
    services: dict[str, Service] = {}
    links: list[tuple[str, object, list[str], str]] = []
    for category_plan in plan.categories:
        new = category_plan.category
        category = _upsert(
            Category,
            new.slug,
            {name: getattr(new, name) for name in CATEGORY_FIELDS if name != "slug"},
            "category",
            changes,
        )
        for new_service, talks_to in category_plan.services:
            values = {n: getattr(new_service, n) for n in SERVICE_FIELDS if n != "slug"}
            values.update(category_id=category.pk, position=new_service.position)
            service = _upsert(Service, new_service.slug, values, "service", changes)
            services[service.slug] = service
            links.append(("service", service, talks_to, "talks_to"))
        for new_store, used_by in category_plan.stores:
            values = {n: getattr(new_store, n) for n in STORE_FIELDS if n != "slug"}
            values.update(category_id=category.pk, position=new_store.position)
            store = _upsert(DataStore, new_store.slug, values, "data store", changes)
            links.append(("data store", store, used_by, "used_by"))
        for name, model in TEXT_LISTS.items():
            _replace_texts(category, name, model, category_plan.texts[name], changes)

    if plan.prune:
        _prune(plan, changes)
    missing = {slug for _, _, slugs, _ in links for slug in slugs} - set(services)
    services.update({s.slug: s for s in Service.objects.filter(slug__in=missing)})
    for label, row, slugs, relation in links:
        wanted = {services[slug].pk for slug in slugs}
        manager = getattr(row, relation)
        if set(manager.values_list("pk", flat=True)) != wanted:
            manager.set(wanted)
            changes.append(f"~ {label} {row.slug}: {relation}")


def _replace_texts(category, name, model, wanted, changes) -> None:
    current = list(model.objects.filter(category=category).order_by("position"))
    as_pairs = [(item.text, getattr(item, "is_access_touchpoint", False)) for item in current]
    if as_pairs == wanted:
        return
    model.objects.filter(category=category).delete()
    rows = [
        model(category=category, position=index + 1, text=text)
        for index, (text, _touchpoint) in enumerate(wanted)
    ]
    if model is ConfigNote:
        for row, (_text, touchpoint) in zip(rows, wanted, strict=True):
            row.is_access_touchpoint = touchpoint
    model.objects.bulk_create(rows)
    changes.append(f"~ category {category.slug}: {name} ({len(current)} → {len(wanted)})")


def _prune(plan: ImportPlan, changes: list[str]) -> None:
    keep_categories = {p.category.slug for p in plan.categories}
    keep_services = {s.slug for p in plan.categories for s, _ in p.services}
    keep_stores = {s.slug for p in plan.categories for s, _ in p.stores}
    for label, model, keep in (
        ("data store", DataStore, keep_stores),
        ("service", Service, keep_services),
        ("category", Category, keep_categories),
    ):
        for slug in model.objects.exclude(slug__in=keep).values_list("slug", flat=True):
            changes.append(f"- {label} {slug}")
        model.objects.exclude(slug__in=keep).delete()
