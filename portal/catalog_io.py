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
      - {slug: vault, ..., visible_to_groups: [/platform/devops]}
      - {slug: jenkins, ..., icon: jenkins, public_badge: true, slo_target: 99.5,
         slo_window_days: 7}
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

A category, service or data store limited to Keycloak groups (portal.visibility) lists
them as `visible_to_groups` (full paths); without that key it is seen by every member, so
importing a file sets every limit to what the file says. So with `public_badge` (its badges
readable without signing in), `slo_target` and `slo_window_days` (its SLO): a key the file
leaves out is the default (not public, no SLO, 30 days), and export writes only the others.
A service's `icon` (a logo the portal ships, portal.icons) is the same: without the key it
has none and shows a monogram.
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
from aixops.observability import audit_line

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
from .signals import revision_moved_by_caller

FORMAT_VERSION = 1
POSITION_STEP = 10

# The key of a limit to Keycloak groups, on categories, services and data stores.
GROUPS = "visible_to_groups"
CATEGORY_FIELDS = ["slug", "name", "title", "summary", "description", "position", GROUPS]
# What a service or data store publishes about its health (models.StatusPublishing), as
# the admin sets it: written to the file only when not the default, which a file without
# the key sets.
STATUS_DEFAULTS = {
    name: Service._meta.get_field(name).get_default()
    for name in ("public_badge", "slo_target", "slo_window_days")
}
# A service's fields written only when set, like the ones above.
SERVICE_DEFAULTS = {"icon": "", **STATUS_DEFAULTS}
SERVICE_FIELDS = [
    "slug",
    "name",
    "summary",
    "role",
    "hidden",
    "location",
    "access",
    "icon",
    GROUPS,
    *STATUS_DEFAULTS,
]
STORE_FIELDS = ["slug", "name", "kind", "description", "remark", GROUPS, *STATUS_DEFAULTS]
CATEGORY_LISTS = ["services", "data_stores", "focus_areas", "checklist", "config_notes"]
# What a service's and a data store's links to services are called in the file.
LINKS = {"service": "talks_to", "data store": "used_by"}
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
FIELD_TYPES = {
    "position": int,
    "hidden": bool,
    "access_touchpoint": bool,
    "public_badge": bool,
    "slo_target": float,
    "slo_window_days": int,
}
# Fields holding lists of strings: links to services by slug, and group paths.
STRING_LISTS = {"talks_to": "slugs", "used_by": "slugs", GROUPS: "group paths"}
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
        entry = _fields(category, CATEGORY_FIELDS)
        entry["services"] = [
            {
                **_fields(service, SERVICE_FIELDS),
                "talks_to": sorted(other.slug for other in service.talks_to.all()),
            }
            for service in services_by_category.get(category.pk, [])
        ]
        entry["data_stores"] = [
            {
                **_fields(store, STORE_FIELDS),
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


def _fields(row, names: list[str]) -> dict:
    """The row's fields as the file has them; a limit only where there is one (an item
    without is seen by every member), an icon, badge or SLO setting only where it is not
    the default."""
    return {
        name: getattr(row, name)
        for name in names
        if (name != GROUPS or row.visible_to_groups)
        and (name not in SERVICE_DEFAULTS or getattr(row, name) != SERVICE_DEFAULTS[name])
    }


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
        elif key in STRING_LISTS and not (
            isinstance(value, list) and all(isinstance(v, str) for v in value)
        ):
            problems.append(f"{where}: {key}: expected a list of {STRING_LISTS[key]}")
            ok = False
        elif (
            not expected
            and key not in (*STRING_LISTS, *CATEGORY_LISTS)
            and not isinstance(value, str)
        ):
            problems.append(f"{where}: {key}: expected text, got {short_repr(value)}")
            ok = False
        elif isinstance(value, str) and not _storable_text(value, f"{where}: {key}", problems):
            ok = False
    return ok


def _values(entry: dict, fields: list[str]) -> dict:
    """The entry's values of `fields`; group paths sorted, as the admin stores them, so
    that the same limit in another order is no change."""
    values = {name: entry[name] for name in fields if name in entry}
    if GROUPS in values:
        values[GROUPS] = sorted(values[GROUPS])
    return values


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
    if expected is float:  # a percentage: 99.5, or 99 as YAML reads it
        return isinstance(value, int | float) and not isinstance(value, bool)
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
    category = Category(**_values(entry, CATEGORY_FIELDS))
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
        row = model(position=(index + 1) * POSITION_STEP, **_values(item, fields))
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
    The writes are in bulk, keyed by slug: the number of queries does not grow with the
    rows of the file, and the catalog revision moves once. What an import changed is a
    line of the audit log stream once it commits (the `aixops.audit` logger, as
    Service.relocate's); an import that changes nothing, or a dry run, logs nothing.
    """
    changes: list[str] = []
    try:
        with transaction.atomic(), revision_moved_by_caller():
            _apply(plan, changes)
            if dry_run:
                raise _DryRun
            if changes:
                CatalogRevision.bump()
                transaction.on_commit(lambda: _audit_import(changes))
    except _DryRun:
        pass
    return changes


def _audit_import(changes: list[str]) -> None:
    audit_line(
        "catalog.import",
        actor="system",
        # How many rows were added (+), changed (~) and deleted (-), and each line.
        counts={mark: sum(line[0] == mark for line in changes) for mark in "+~-"},
        changes=changes,
    )


class _DryRun(Exception):
    """Unwinds the transaction of a dry run."""


@dataclass
class _Upsert:
    """The rows of one model the file lists, keyed by slug, against the stored ones: what
    to report and what to write."""

    model: type
    label: str
    stored: dict[str, object]
    values: dict[str, dict] = field(default_factory=dict)  # slug -> field values, file order
    category_of: dict[str, str] = field(default_factory=dict)  # slug -> its category's slug
    write: list[str] = field(default_factory=list)  # slugs new or changed

    @classmethod
    def of(cls, model, label: str, slugs: list[str]) -> _Upsert:
        return cls(model, label, {row.slug: row for row in model.objects.filter(slug__in=slugs)})

    def diff(self, slug: str, values: dict, changes: list[str], *, category: str = "") -> None:
        """Report the row as new or changed (naming its changed fields) and keep it to write;
        a row that matches the stored one is left alone. A service or store names the slug
        of its `category`: its `category_id` is None while the category is yet to be made."""
        self.values[slug] = values
        if category:
            self.category_of[slug] = category
        existing = self.stored.get(slug)
        if existing is None:
            changes.append(f"+ {self.label} {slug}")
            self.write.append(slug)
            return
        changed = [name for name, value in values.items() if getattr(existing, name) != value]
        if changed:
            changes.append(
                f"~ {self.label} {slug}: {', '.join(n.removesuffix('_id') for n in changed)}"
            )
            self.write.append(slug)

    def save(self, category_ids: dict[str, int] | None = None) -> dict[str, int]:
        """Create and update the rows to write in one INSERT … ON CONFLICT (slug) DO UPDATE,
        in the categories `category_ids` names by slug (written just before). Returns every
        listed row's id by slug."""
        rows = []
        for slug in self.write:
            values = self.values[slug]
            if category_ids is not None:
                values["category_id"] = category_ids[self.category_of[slug]]
            rows.append(self.model(slug=slug, **values))
        if rows:
            self.model.objects.bulk_create(
                rows,
                update_conflicts=True,
                unique_fields=["slug"],
                update_fields=list(self.values[self.write[0]]),
            )
        ids = {slug: row.pk for slug, row in self.stored.items()}
        if rows:
            written = self.model.objects.filter(slug__in=self.write)
            ids.update(written.values_list("slug", "pk"))
        return ids


def _apply(plan: ImportPlan, changes: list[str]) -> None:
    """Report every change in the file's order, then write each model in bulk."""
    categories = _Upsert.of(Category, "category", [p.category.slug for p in plan.categories])
    services = _Upsert.of(
        Service, "service", [s.slug for p in plan.categories for s, _ in p.services]
    )
    stores = _Upsert.of(
        DataStore, "data store", [s.slug for p in plan.categories for s, _ in p.stores]
    )
    texts = {
        name: _current_texts(model, categories.stored.values())
        for name, model in TEXT_LISTS.items()
    }
    new_texts: dict[str, dict[str, list]] = {name: {} for name in TEXT_LISTS}
    links: list[tuple[str, str, list[str]]] = []  # (label, slug, linked service slugs)
    for category_plan in plan.categories:
        new = category_plan.category
        slug = new.slug
        categories.diff(
            slug, {name: getattr(new, name) for name in CATEGORY_FIELDS if name != "slug"}, changes
        )
        # A category the file adds has no id until it is written (save() sets it then).
        category_id = categories.stored[slug].pk if slug in categories.stored else None
        for new_service, talks_to in category_plan.services:
            values = {n: getattr(new_service, n) for n in SERVICE_FIELDS if n != "slug"}
            values.update(category_id=category_id, position=new_service.position)
            services.diff(new_service.slug, values, changes, category=slug)
            links.append(("service", new_service.slug, talks_to))
        for new_store, used_by in category_plan.stores:
            values = {n: getattr(new_store, n) for n in STORE_FIELDS if n != "slug"}
            values.update(category_id=category_id, position=new_store.position)
            stores.diff(new_store.slug, values, changes, category=slug)
            links.append(("data store", new_store.slug, used_by))
        for name in TEXT_LISTS:
            current = texts[name].get(category_id, [])
            wanted = category_plan.texts[name]
            if current != wanted:
                new_texts[name][slug] = wanted
                changes.append(f"~ category {slug}: {name} ({len(current)} → {len(wanted)})")

    category_ids = categories.save()
    service_ids = services.save(category_ids)
    store_ids = stores.save(category_ids)
    for name, model in TEXT_LISTS.items():
        _replace_texts(model, new_texts[name], category_ids)
    if plan.prune:
        _prune(plan, changes)
    named = {slug for _, _, slugs in links for slug in slugs}
    missing = named - set(service_ids)
    service_ids.update(Service.objects.filter(slug__in=missing).values_list("slug", "pk"))
    relinked = {
        "service": _set_links(Service.talks_to, links, "service", service_ids, service_ids),
        "data store": _set_links(DataStore.used_by, links, "data store", store_ids, service_ids),
    }
    for label, slug, _ in links:
        if slug in relinked[label]:
            changes.append(f"~ {label} {slug}: {LINKS[label]}")


def _current_texts(model, categories) -> dict[int, list[tuple[str, bool]]]:
    """The stored text list of each given category, as (text, access touchpoint) pairs."""
    current: dict[int, list[tuple[str, bool]]] = {}
    rows = model.objects.filter(category__in=list(categories)).order_by("category", "position")
    for item in rows:
        pair = (item.text, getattr(item, "is_access_touchpoint", False))
        current.setdefault(item.category_id, []).append(pair)
    return current


def _replace_texts(model, wanted: dict[str, list[tuple[str, bool]]], category_ids) -> None:
    """Replace the whole text list of each category named in `wanted` (by slug)."""
    if not wanted:
        return
    ids = [category_ids[slug] for slug in wanted]
    model.objects.filter(category_id__in=ids).delete()
    rows = []
    for slug, pairs in wanted.items():
        for index, (text, touchpoint) in enumerate(pairs):
            row = model(category_id=category_ids[slug], position=index + 1, text=text)
            if model is ConfigNote:
                row.is_access_touchpoint = touchpoint
            rows.append(row)
    model.objects.bulk_create(rows)


def _set_links(relation, links, label, ids, service_ids) -> set[str]:
    """Make the links through the many-to-many `relation` of each row `links` names under
    `label` (with its id in `ids`) exactly the services it lists: one read of the stored
    links, then one DELETE and one INSERT for the rows whose links differ. Returns their
    slugs."""
    rows = [(slug, ids[slug], slugs) for row_label, slug, slugs in links if row_label == label]
    through = relation.through
    source = relation.field.m2m_field_name() + "_id"
    target = relation.field.m2m_reverse_field_name() + "_id"
    current: dict[int, set[int]] = {}
    stored = through.objects.filter(**{f"{source}__in": [pk for _, pk, _ in rows]})
    for source_id, target_id in stored.values_list(source, target):
        current.setdefault(source_id, set()).add(target_id)
    changed = {}
    for slug, pk, slugs in rows:
        wanted = {service_ids[other] for other in slugs}
        if current.get(pk, set()) != wanted:
            changed[slug] = (pk, wanted)
    if changed:
        through.objects.filter(**{f"{source}__in": [pk for pk, _ in changed.values()]}).delete()
        through.objects.bulk_create(
            through(**{source: pk, target: other})
            for pk, wanted in changed.values()
            for other in sorted(wanted)
        )
    return set(changed)


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
