"""Search and quick launch: categories, services, data stores, checklist items and notes
found by name or text, as the reader may see them.

The catalog's searchable text is read once per catalog revision into an index kept in
Django's cache: the entries (what a result shows, and the limits that decide who sees it)
and their names, slugs and texts normalized (NFKC, case-folded: Korean and English alike)
into one string, a line per entry. A search costs no catalog query: it finds the query's
longest word in that string (str.find, so entries that cannot match cost nothing), ranks
the entries it lands in, and keeps what the reader may see by the rules every page follows
(portal.visibility.item_visible).
"""

from __future__ import annotations

import re
import unicodedata
from bisect import bisect_right
from dataclasses import dataclass
from typing import NamedTuple

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

# Between an entry's fields, and after each entry, in the index's text: normalized text
# never holds either, so no match runs across two.
FIELD_END, ENTRY_END = "\x00", "\n"
_CONTROLS = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_SEPARATORS = re.compile(r"[\W_]+")
_SPACES = re.compile(r"\s+")


def normalized(text: str) -> str:
    """Text as it is compared: NFKC (composed Hangul, full-width Latin as ASCII),
    case-folded, control characters and runs of white space as one space."""
    text = _CONTROLS.sub(" ", unicodedata.normalize("NFKC", text).casefold())
    return _SPACES.sub(" ", text).strip()


def _words(text: str) -> str:
    """Normalized text as its words, each after one space: a word starts with `q` where
    " " + q occurs in it."""
    return " " + _SEPARATORS.sub(" ", text).strip()


class Limit(NamedTuple):
    """A category's limit, as item_visible reads it."""

    visible_to_groups: tuple[str, ...]


class Entry(NamedTuple):
    """One searchable thing of the catalog: what a result shows and who may see it.
    (A named tuple: the cache hands thousands back on every search, and tuples unpickle
    fastest.)"""

    kind: str
    name: str
    summary: str
    slug: str  # a checklist item's or note's: empty
    category_slug: str
    category_name: str
    place: str  # its place in the portal: the category page, at the item's anchor
    tool: str  # a service's own address (path or URL); empty for anything else
    icon: str  # a service's icon name (portal.icons); empty for anything else
    order: tuple[int, ...]  # catalog order, among results of one rank
    category: Limit
    # As item_visible reads a service or data store; unused for the other kinds.
    hidden: bool
    visible_to_groups: tuple[str, ...]

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


@dataclass(frozen=True)
class SearchIndex:
    """The catalog's entries, and their normalized name, slug and text (and the name and
    text as _words gives them) as one string: a line per entry (`starts`: where each
    begins), its fields apart by FIELD_END."""

    entries: tuple[Entry, ...]
    text: str
    starts: tuple[int, ...]

    def landing_in(self, needle: str):
        """The position of every entry whose line holds `needle`, in order."""
        text, starts, count = self.text, self.starts, len(self.entries)
        at = text.find(needle)
        while at != -1:
            position = bisect_right(starts, at) - 1
            yield position
            if position + 1 == count:
                return
            at = text.find(needle, starts[position + 1])

    def fields(self, position: int) -> list[str]:
        """An entry's normalized name, slug and text, and its name and text as _words
        gives them."""
        last = position + 1 == len(self.starts)
        end = len(self.text) if last else self.starts[position + 1] - len(ENTRY_END)
        return self.text[self.starts[position] : end].split(FIELD_END)


def _rank(fields: list[str], query: str, query_words: str, words: list[str]) -> int | None:
    """How well an entry (its normalized name, slug and text, and the name and text as
    _words gives them) matches the normalized query (`query_words`: as _words gives it;
    `words`: its words), a rank above, or None."""
    name, slug, text, name_words, text_words = fields
    if name == query:
        return EXACT_NAME
    if name.startswith(query):
        return NAME_PREFIX
    if query_words in name_words:
        return NAME_WORD_PREFIX
    if query in name:
        return IN_NAME
    if query in slug:
        return IN_SLUG
    if query_words in text_words:
        return TEXT_WORD_PREFIX
    if query in text:
        return IN_TEXT
    if len(words) > 1 and all(word in name or word in text for word in words):
        return ALL_WORDS
    return None


class _IndexBuilder:
    """Collects entries and their normalized text, in catalog order."""

    def __init__(self):
        self.entries: list[Entry] = []
        self.lines: list[str] = []

    def add(
        self, kind, *, name, summary, slug="", category, place, tool="", icon="", order,
        other="", hidden=False, groups=(), text_only=False,
    ) -> None:  # fmt: skip
        """An entry; `text_only`: its name is its text (a checklist item's, a note's),
        ranked as text, after the names of things."""
        self.entries.append(
            Entry(
                kind=kind,
                name=name,
                summary=summary,
                slug=slug,
                category_slug=category["slug"],
                category_name=category["name"],
                place=place,
                tool=tool,
                icon=icon,
                order=order,
                category=category["limit"],
                hidden=hidden,
                visible_to_groups=tuple(groups),
            )
        )
        texts = (name, summary, other) if text_only else (summary, other)
        match_name = "" if text_only else normalized(name)
        match_text = normalized(" ".join(part for part in texts if part))
        fields = (match_name, normalized(slug), match_text, _words(match_name), _words(match_text))
        self.lines.append(FIELD_END.join(fields))

    def index(self) -> SearchIndex:
        starts, at = [], 0
        for line in self.lines:
            starts.append(at)
            at += len(line) + len(ENTRY_END)
        return SearchIndex(tuple(self.entries), ENTRY_END.join(self.lines), tuple(starts))


def _plain(text: str) -> str:
    """A checklist item's or note's text as a result shows it: without the backticks that
    mark `code` on the page."""
    return text.replace("`", "")


def build_index() -> SearchIndex:
    """Every searchable entry of the catalog, in catalog order, in four queries: the
    categories, the services, the data stores, and the checklist items and notes as one
    UNION."""
    categories = {}
    entries = _IndexBuilder()
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
        entries.add(
            CATEGORY,
            name=row["name"],
            summary=row["summary"],
            slug=row["slug"],
            category=category,
            place=url,
            order=(row["position"], 0, 0),
            other=f"{row['title']} {row['description']}",
        )
    for row in Service.objects.values(
        "category_id", "slug", "name", "summary", "location", "icon", "position", "hidden",
        "visible_to_groups",
    ):  # fmt: skip
        category = categories[row["category_id"]]
        entries.add(
            SERVICE,
            name=row["name"],
            summary=row["summary"],
            slug=row["slug"],
            category=category,
            place=f"{category['url']}#service-{row['slug']}",
            tool=row["location"],
            icon=row["icon"],
            order=(category["position"], 1, row["position"]),
            hidden=row["hidden"],
            groups=row["visible_to_groups"],
        )
    kinds = dict(DataStore.Kind.choices)
    for row in DataStore.objects.values(
        "category_id", "slug", "name", "kind", "description", "remark", "position",
        "visible_to_groups",
    ):  # fmt: skip
        category = categories[row["category_id"]]
        entries.add(
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
    for kind, category_id, position, text in _text_items():
        category = categories[category_id]
        anchor = "checklist" if kind == CHECKLIST_ITEM else "note"
        entries.add(
            kind,
            name=_plain(text),
            summary="",
            category=category,
            place=f"{category['url']}#{anchor}-{position}",
            order=(category["position"], 3 if kind == CHECKLIST_ITEM else 4, position),
            text_only=True,
        )
    return entries.index()


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


def search_index(revision: Revision) -> SearchIndex:
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
    query: str, *, reader: Reader, index: SearchIndex, limit: int = RESULTS_DEFAULT
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
    # Every rank needs each word of the query (or the query itself) in the entry's line:
    # only the lines that hold them all are ranked.
    ranked = []
    for position in _holding_all(index, words or [wanted]):
        rank = _rank(index.fields(position), wanted, query_words, words)
        entry = index.entries[position]
        if rank is not None and entry.visible_to(reader):
            ranked.append((rank, KIND_ORDER[entry.kind], entry.order, position))
    ranked.sort()
    found = [index.entries[position] for *_, position in ranked[:limit]]
    return SearchResults(query, found, len(ranked))


def _holding_all(index: SearchIndex, words: list[str]) -> list[int]:
    """The positions of the entries whose lines hold every one of `words`, in order."""
    found = None
    for word in sorted(set(words), key=len, reverse=True):
        landed = index.landing_in(word)
        found = set(landed) if found is None else found.intersection(landed)
        if not found:
            return []
    return sorted(found)


def visible_categories(index: SearchIndex, reader: Reader) -> list[tuple[str, str]]:
    """(slug, name) of every category `reader` may see, in order: the top bar's links."""
    return [
        (entry.category_slug, entry.name)
        for entry in index.entries
        if entry.kind == CATEGORY and entry.visible_to(reader)
    ]


def reader_and_index(user) -> tuple[Reader, SearchIndex]:
    """Who `user` is to the catalog and the index of its current revision: no catalog
    query once cached (pages.page_reader: the page state, and a member's groups when some
    item is limited)."""
    reader, _limits, state = page_reader(user)
    return reader, search_index(state.revision)
