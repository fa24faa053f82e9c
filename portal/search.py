"""Search and quick launch: categories, services, data stores, checklist items and notes
found by name or text, as the reader may see them.

The catalog's searchable text is read once per catalog revision into an index (every
entry's name and text, normalized once) kept in Django's cache, so a search costs no
catalog query: it scans the index, ranks what matches, and keeps what the reader may see
by the rules every page follows (portal.visibility.item_visible). Normalized as NFKC and
case-folded, Korean and English alike.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from django.core.cache import cache
from django.db.models import CharField, Value
from django.urls import reverse
from django.utils.translation import gettext

from .models import Category, ChecklistItem, ConfigNote, DataStore, Revision, Service
from .pages import page_reader
from .visibility import Reader, item_visible

QUERY_MAX_LENGTH = 100
RESULTS_MAX = 50
RESULTS_DEFAULT = 20
INDEX_CACHE_SECONDS = 24 * 60 * 60

CATEGORY, SERVICE, DATA_STORE = "category", "service", "data_store"
CHECKLIST_ITEM, CONFIG_NOTE = "checklist_item", "config_note"
# Among results of one rank: what a quick launch is most often for first.
KIND_ORDER = {SERVICE: 0, CATEGORY: 1, DATA_STORE: 2, CHECKLIST_ITEM: 3, CONFIG_NOTE: 4}

# How well an entry matches, best first: its name is the query, starts with it, has a word
# starting with it, holds it; then its slug, then its other text (a summary, description,
# remark; a checklist item's or note's text); last, every word of the query somewhere.
(
    EXACT_NAME,
    NAME_PREFIX,
    NAME_WORD_PREFIX,
    IN_NAME,
    IN_SLUG,
    TEXT_WORD_PREFIX,
    IN_TEXT,
    ALL_WORDS,
) = range(8)

_SEPARATORS = re.compile(r"[\W_]+")
_SPACES = re.compile(r"\s+")


def normalized(text: str) -> str:
    """Text as it is compared: NFKC (composed Hangul, full-width Latin as ASCII),
    case-folded, runs of white space as one space."""
    return _SPACES.sub(" ", unicodedata.normalize("NFKC", text).casefold()).strip()


def _words(text: str) -> str:
    """Normalized text as its words, each after one space: a word starts with `q` where
    " " + q occurs in it."""
    return " " + _SEPARATORS.sub(" ", text).strip()


@dataclass(frozen=True)
class Limit:
    """A category's limit, as item_visible reads it."""

    visible_to_groups: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Entry:
    """One searchable thing of the catalog: what a result shows, who may see it, and its
    text normalized for matching."""

    kind: str
    name: str
    summary: str
    slug: str  # a checklist item's or note's: empty
    category_slug: str
    category_name: str
    place: str  # its place in the portal: the category page, at the item's anchor
    tool: str  # a service's own address (path or URL); empty for anything else
    order: tuple[int, ...]  # catalog order, among results of one rank
    category: Limit
    # As item_visible reads a service or data store; unused for the other kinds.
    hidden: bool
    visible_to_groups: tuple[str, ...]
    match_name: str
    match_name_words: str
    match_slug: str
    match_text: str
    match_text_words: str

    def rank(self, query: str, query_words: str, words: list[str]) -> int | None:
        """How well the entry matches the normalized query (a rank above), or None."""
        if self.match_name == query:
            return EXACT_NAME
        if self.match_name.startswith(query):
            return NAME_PREFIX
        if query_words in self.match_name_words:
            return NAME_WORD_PREFIX
        if query in self.match_name:
            return IN_NAME
        if query in self.match_slug:
            return IN_SLUG
        if query_words in self.match_text_words:
            return TEXT_WORD_PREFIX
        if query in self.match_text:
            return IN_TEXT
        if len(words) > 1 and all(
            word in self.match_name or word in self.match_text for word in words
        ):
            return ALL_WORDS
        return None

    def visible_to(self, reader: Reader) -> bool:
        """Whether `reader` may see it: by its own limits and hidden flag (a service or data
        store), its category's, as every page decides."""
        item = self if self.kind in (SERVICE, DATA_STORE) else None
        return item_visible(item, self.category, reader)

    @property
    def kind_label(self) -> str:
        return {
            CATEGORY: gettext("Category"),
            SERVICE: gettext("Service"),
            DATA_STORE: gettext("Data store"),
            CHECKLIST_ITEM: gettext("Checklist item"),
            CONFIG_NOTE: gettext("Configuration note"),
        }[self.kind]

    @property
    def opens(self) -> str:
        """Where choosing it goes: a service's tool, or its place in the portal."""
        return self.tool or self.place


def _entry(
    kind,
    *,
    name,
    summary,
    slug="",
    category,
    place,
    tool="",
    order,
    other="",
    hidden=False,
    groups=(),
    text_only=False,
) -> Entry:
    """An entry; `text_only`: its name is its text (a checklist item's, a note's), ranked
    as text, after the names of things."""
    match_name = "" if text_only else normalized(name)
    texts = (name, summary, other) if text_only else (summary, other)
    match_text = normalized(" ".join(part for part in texts if part))
    return Entry(
        kind=kind,
        name=name,
        summary=summary,
        slug=slug,
        category_slug=category["slug"],
        category_name=category["name"],
        place=place,
        tool=tool,
        order=order,
        category=category["limit"],
        hidden=hidden,
        visible_to_groups=tuple(groups),
        match_name=match_name,
        match_name_words=_words(match_name),
        match_slug=normalized(slug),
        match_text=match_text,
        match_text_words=_words(match_text),
    )


def _plain(text: str) -> str:
    """A checklist item's or note's text as a result shows it: without the backticks that
    mark `code` on the page."""
    return text.replace("`", "")


def build_index() -> tuple[Entry, ...]:
    """Every searchable entry of the catalog, in catalog order, in four queries: the
    categories, the services, the data stores, and the checklist items and notes as one
    UNION."""
    categories = {}
    entries = []
    for row in Category.objects.values(
        "pk", "slug", "name", "title", "summary", "description", "position", "visible_to_groups"
    ):
        url = reverse("portal:category", args=[row["slug"]])
        category = {
            "slug": row["slug"],
            "name": row["name"],
            "url": url,
            "position": row["position"],
            "limit": Limit(tuple(row["visible_to_groups"])),
        }
        categories[row["pk"]] = category
        entries.append(
            _entry(
                CATEGORY,
                name=row["name"],
                summary=row["summary"],
                slug=row["slug"],
                category=category,
                place=url,
                order=(row["position"], 0, 0),
                other=f"{row['title']} {row['description']}",
            )
        )
    for row in Service.objects.values(
        "category_id", "slug", "name", "summary", "location", "position", "hidden",
        "visible_to_groups",
    ):  # fmt: skip
        category = categories[row["category_id"]]
        entries.append(
            _entry(
                SERVICE,
                name=row["name"],
                summary=row["summary"],
                slug=row["slug"],
                category=category,
                place=f"{category['url']}#service-{row['slug']}",
                tool=row["location"],
                order=(category["position"], 1, row["position"]),
                hidden=row["hidden"],
                groups=row["visible_to_groups"],
            )
        )
    kinds = dict(DataStore.Kind.choices)
    for row in DataStore.objects.values(
        "category_id", "slug", "name", "kind", "description", "remark", "position",
        "visible_to_groups",
    ):  # fmt: skip
        category = categories[row["category_id"]]
        entries.append(
            _entry(
                DATA_STORE,
                name=row["name"],
                summary=row["description"],
                slug=row["slug"],
                category=category,
                place=f"{category['url']}#store-{row['slug']}",
                order=(category["position"], 2, row["position"]),
                other=f"{row['remark']} {kinds.get(row['kind'], row['kind'])}",
                groups=row["visible_to_groups"],
            )
        )
    for kind, category_id, position, text in _text_items():
        category = categories[category_id]
        anchor = "checklist" if kind == CHECKLIST_ITEM else "note"
        entries.append(
            _entry(
                kind,
                name=_plain(text),
                summary="",
                category=category,
                place=f"{category['url']}#{anchor}-{position}",
                order=(category["position"], 3 if kind == CHECKLIST_ITEM else 4, position),
                text_only=True,
            )
        )
    return tuple(entries)


def _text_items():
    label = CharField()
    checklist = (
        ChecklistItem.objects.order_by()
        .annotate(kind=Value(CHECKLIST_ITEM, output_field=label))
        .values_list("kind", "category_id", "position", "text")
    )
    notes = (
        ConfigNote.objects.order_by()
        .annotate(kind=Value(CONFIG_NOTE, output_field=label))
        .values_list("kind", "category_id", "position", "text")
    )
    return checklist.union(notes, all=True)


def search_index(revision: Revision) -> tuple[Entry, ...]:
    """The index of the catalog at `revision`, from the cache (built the first time)."""
    return cache.get_or_set(
        f"portal:search-index:{revision.cache_key}", build_index, INDEX_CACHE_SECONDS
    )


@dataclass(frozen=True)
class SearchResults:
    """What a search found: the best `results`, and how many matched in all."""

    query: str
    results: list[Entry]
    total: int


class QueryTooLong(ValueError):
    """A query longer than QUERY_MAX_LENGTH characters."""


def search(
    query: str, *, reader: Reader, index: tuple[Entry, ...], limit: int = RESULTS_DEFAULT
) -> SearchResults:
    """The entries of `index` that match `query` and that `reader` may see, best first
    (by rank, then kind, then catalog order), at most `limit` of them. An empty query
    finds nothing; one longer than QUERY_MAX_LENGTH raises QueryTooLong."""
    if len(query) > QUERY_MAX_LENGTH:
        raise QueryTooLong(query[:QUERY_MAX_LENGTH])
    wanted = normalized(query)
    if not wanted:
        return SearchResults(query, [], 0)
    query_words = _words(wanted)
    words = query_words.split()
    if not words:  # only punctuation: match it as typed
        query_words = " " + wanted
    ranked = []
    for entry in index:
        rank = entry.rank(wanted, query_words, words)
        if rank is not None and entry.visible_to(reader):
            ranked.append((rank, KIND_ORDER[entry.kind], entry.order, entry))
    ranked.sort(key=lambda found: found[:3])
    return SearchResults(query, [found[3] for found in ranked[:limit]], len(ranked))


def visible_categories(index: tuple[Entry, ...], reader: Reader) -> list[tuple[str, str]]:
    """(slug, name) of every category `reader` may see, in order: the top bar's links."""
    return [
        (entry.category_slug, entry.name)
        for entry in index
        if entry.kind == CATEGORY and entry.visible_to(reader)
    ]


def reader_and_index(user) -> tuple[Reader, tuple[Entry, ...]]:
    """Who `user` is to the catalog and the index of its current revision: no catalog
    query once cached (pages.page_reader: the page state, and a member's groups when some
    item is limited)."""
    reader, _limits, state = page_reader(user)
    return reader, search_index(state.revision)
