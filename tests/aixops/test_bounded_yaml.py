"""YAML from files people hand the portal is refused at once, in bounded memory, when it is
too large, not UTF-8, uses aliases, or nests or counts past the limits; the line is named."""

import io

import pytest

from aixops import bounded_yaml
from aixops.bounded_yaml import YAMLInputError
from tests.bad_yaml import BILLION_LAUGHS, DEEP_BLOCK


def refusal(source) -> YAMLInputError:
    with pytest.raises(YAMLInputError) as error:
        bounded_yaml.load(source)
    return error.value


@pytest.mark.parametrize(
    "source",
    ["a: [1, two]\n", b"a: [1, two]\n", io.BytesIO(b"a: [1, two]\n"), io.StringIO("a: [1, two]")],
    ids=["text", "bytes", "binary file", "text file"],
)
def test_plain_yaml_loads_from_text_bytes_and_files(source):
    assert bounded_yaml.load(source) == {"a": [1, "two"]}


def test_a_billion_laughs_is_refused_at_its_first_anchor():
    error = refusal(f"name: ok\nlaughs: {BILLION_LAUGHS}\n")
    assert (error.line, error.problem) == (2, "anchors (&name) and aliases (*name) are not allowed")


@pytest.mark.parametrize(
    "text", ["a: &x 1\n", "a: 1\nb: *x\n", "base: &b {x: 1}\nother:\n  <<: *b\n"]
)
def test_anchors_aliases_and_merge_keys_are_refused(text):
    assert "aliases" in refusal(text).problem


def test_nesting_past_the_limit_is_refused():
    at_limit = "- " * bounded_yaml.MAX_DEPTH + "x"
    assert bounded_yaml.load(at_limit) is not None
    assert refusal(DEEP_BLOCK).problem == "nested deeper than 50 levels"
    assert refusal("a: " + "{b: " * 60 + "1" + "}" * 60).problem == "nested deeper than 50 levels"


def test_more_values_than_the_limit_are_refused(monkeypatch):
    monkeypatch.setattr(bounded_yaml, "MAX_NODES", 10)
    assert bounded_yaml.load("[1, 2, 3, 4, 5, 6, 7, 8, 9]") == [1, 2, 3, 4, 5, 6, 7, 8, 9]
    assert refusal("[1, 2, 3, 4, 5, 6, 7, 8, 9, 10]").problem == "more than 10 values"


def test_an_endless_stream_is_refused_after_reading_the_limit():
    with open("/dev/zero", "rb") as endless:
        assert refusal(endless).problem == "larger than the limit of 5 MB"


def test_bytes_that_are_not_utf8_are_refused_with_their_line():
    error = refusal("a: é\nb: ".encode() + b"\xe9t\xe9\n")
    assert (error.line, error.problem) == (2, "not UTF-8 text (byte 0xe9)")


@pytest.mark.parametrize(
    ("text", "line", "problem"),
    [
        ("a: [1\n", 2, "not valid YAML: while parsing a flow sequence"),
        ("a: \x00\n", 1, "not valid YAML: control characters are not allowed"),
        ("a: !!python/object:os.system x\n", 1, "not valid YAML: could not determine"),
        ("a: 1\n---\nb: 2\n", 2, "not valid YAML: expected a single document"),
    ],
)
def test_invalid_yaml_is_refused_with_its_line(text, line, problem):
    error = refusal(text)
    assert error.line == line and error.problem.startswith(problem)


def test_a_catalog_of_two_thousand_services_fits_the_limits():
    services = "".join(
        f"  - {{slug: s{i}, name: Service {i}, summary: What it does, role: menu, hidden: false,"
        f" location: /s{i}, access: keycloak_oidc, talks_to: [s{i + 1}, s{i + 2}]}}\n"
        for i in range(2000)
    )
    text = f"version: 1\ncategories:\n- slug: c\n  services:\n{services}"
    assert len(bounded_yaml.load(text)["categories"][0]["services"]) == 2000
