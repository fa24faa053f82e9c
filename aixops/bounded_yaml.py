"""YAML that people hand the portal (catalog files, fixtures), read in bounded time and memory.

PyYAML's safe loader still shares one node for every alias of an anchor, so a file of a few
hundred bytes ("billion laughs") turns into gigabytes as soon as anything walks or prints
the result; it recurses once per level of nesting (a deeply nested file ends in
RecursionError), and it reads a file of any size. Here the input is capped in size, decoded
as UTF-8 with a message saying where it is not, and its event stream (libyaml's, streamed:
no node is built yet) must have no anchors or aliases, a bounded depth and a bounded number
of nodes before the document is loaded.
"""

from __future__ import annotations

import yaml

MAX_BYTES = 5 * 1024 * 1024
# A catalog file nests 6 levels deep and a fixture 5; the node limit still takes a fixture
# of 10,000 health checks.
MAX_DEPTH = 50
MAX_NODES = 500_000

try:  # libyaml when PyYAML was built with it (much faster); its pure-Python twin otherwise
    from yaml import CSafeLoader as SafeLoader
except ImportError:
    from yaml import SafeLoader


class YAMLInputError(ValueError):
    """Input refused before it was loaded; `line` (from 1) says where, when there is a place."""

    def __init__(self, problem: str, *, line: int | None = None):
        super().__init__(f"line {line}: {problem}" if line else problem)
        self.problem = problem
        self.line = line


def load(source) -> object:
    """The one YAML document in `source` (bytes, text, or a file open for reading) as plain
    data; YAMLInputError if it is too large, not UTF-8, not valid YAML, uses anchors or
    aliases, or nests or counts more than the limits above."""
    raw = source.read(MAX_BYTES + 1) if hasattr(source, "read") else source
    if len(raw) > MAX_BYTES:
        raise YAMLInputError(f"larger than the limit of {MAX_BYTES // (1024 * 1024)} MB")
    text = _decoded(raw) if isinstance(raw, bytes) else raw
    try:
        _check_events(text)
        return yaml.load(text, Loader=SafeLoader)
    except yaml.MarkedYAMLError as error:
        problem = " ".join(part for part in (error.context, error.problem) if part)
        mark = error.problem_mark or error.context_mark
        raise YAMLInputError(
            f"not valid YAML: {problem}", line=mark.line + 1 if mark else None
        ) from None
    except yaml.reader.ReaderError as error:
        line = text.count("\n", 0, error.position) + 1
        raise YAMLInputError(f"not valid YAML: {error.reason}", line=line) from None


def _decoded(raw: bytes) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as error:
        byte = raw[error.start]
        line = raw.count(b"\n", 0, error.start) + 1
        raise YAMLInputError(f"not UTF-8 text (byte 0x{byte:02x})", line=line) from None


def _check_events(text: str) -> None:
    depth = nodes = 0
    for event in yaml.parse(text, Loader=SafeLoader):
        line = event.start_mark.line + 1
        if isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None) is not None:
            raise YAMLInputError("anchors (&name) and aliases (*name) are not allowed", line=line)
        if isinstance(event, yaml.CollectionEndEvent):
            depth -= 1
            continue
        if isinstance(event, yaml.CollectionStartEvent):
            depth += 1
            if depth > MAX_DEPTH:
                raise YAMLInputError(f"nested deeper than {MAX_DEPTH} levels", line=line)
        if isinstance(event, (yaml.ScalarEvent, yaml.CollectionStartEvent)):
            nodes += 1
            if nodes > MAX_NODES:
                raise YAMLInputError(f"more than {MAX_NODES:,} values", line=line)
