"""Catalog rules: natural keys, locations, counts, and loading the catalog safely."""

import pytest
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import translation

from portal.models import Category, ChecklistItem, ConfigNote, DataStore, FocusArea, Service
from tests.bad_yaml import BILLION_LAUGHS, DEEP_BLOCK, DEEP_FLOW, refused_in_bounded_memory

ALL_MODELS = [Category, Service, DataStore, FocusArea, ChecklistItem, ConfigNote]


def row_counts():
    return {model.__name__: model.objects.count() for model in ALL_MODELS}


def test_seed_catalog_loads_its_three_categories(catalog):
    assert list(Category.objects.values_list("slug", flat=True)) == [
        "devops",
        "identity-access",
        "workspaces",
    ]
    assert row_counts() == {
        "Category": 3,
        "Service": 8,
        "DataStore": 8,
        "FocusArea": 10,
        "ChecklistItem": 9,
        "ConfigNote": 8,
    }


def test_loading_twice_changes_nothing(catalog):
    before = row_counts()
    services = list(Service.objects.values())
    links = sorted(DataStore.used_by.through.objects.values_list("datastore_id", "service_id"))
    call_command("loaddata", "catalog", verbosity=0)
    assert row_counts() == before
    assert list(Service.objects.values()) == services
    assert (
        sorted(DataStore.used_by.through.objects.values_list("datastore_id", "service_id")) == links
    )


def test_catalog_rows_have_natural_keys(catalog):
    assert Service.objects.get_by_natural_key("gitlab").name == "GitLab"
    assert FocusArea.objects.get_by_natural_key("devops", 4).text == "비동기 작업 가시성(Flower)"
    assert Category.objects.get(slug="devops").natural_key() == ("devops",)


@pytest.mark.parametrize(
    "location", ["/gitlab", "https://git.example.com/", "http://10.0.0.1:8080", ""]
)
def test_service_accepts_paths_and_http_urls(catalog, location):
    service = Service.objects.get(slug="gitlab")
    service.location = location
    service.full_clean()


@pytest.mark.parametrize(
    "location",
    ["gitlab", "ftp://files.example.com", "javascript:alert(1)", "//evil.example", "https://"],
)
def test_service_refuses_unusable_locations(catalog, location):
    service = Service.objects.get(slug="gitlab")
    service.location = location
    with pytest.raises(ValidationError) as error:
        service.full_clean()
    assert list(error.value.message_dict) == ["location"]


def test_duplicate_service_slug_is_refused(catalog):
    duplicate = Service(
        category=Category.objects.get(slug="devops"), slug="gitlab", name="Other", summary="x"
    )
    with pytest.raises(ValidationError) as error:
        duplicate.full_clean()
    assert "slug" in error.value.message_dict


def test_home_counts_are_computed(catalog):
    Service.objects.filter(slug="jenkins").update(hidden=True)
    devops = Category.objects.for_home().get(slug="devops")
    assert (devops.visible_count, devops.hidden_count, devops.supporting_count) == (3, 1, 1)
    assert (devops.data_store_count, devops.checklist_count, devops.touchpoint_count) == (4, 3, 2)


def write_fixture(tmp_path, body: str):
    path = tmp_path / "broken.yaml"
    path.write_text(body, encoding="utf-8")
    return str(path)


GOOD_CATEGORY = """
- model: portal.category
  fields: {slug: newcat, name: New, title: New Guide, summary: s, position: 1}
"""


def test_fixture_with_bad_location_names_the_field_and_writes_nothing(catalog, tmp_path):
    before = row_counts()
    fixture = write_fixture(
        tmp_path,
        GOOD_CATEGORY
        + """
- model: portal.service
  fields: {category: [newcat], slug: bad, name: Bad, summary: s, location: "ftp://x.example"}
""",
    )
    with pytest.raises(CommandError) as error:
        call_command("loaddata", fixture, verbosity=0)
    message = str(error.value)
    assert "broken.yaml" in message
    assert "portal.service 'bad'" in message
    assert "location:" in message
    assert row_counts() == before


def test_fixture_with_duplicate_slug_is_refused_whole(db, tmp_path):
    fixture = write_fixture(
        tmp_path,
        GOOD_CATEGORY
        + """
- model: portal.service
  fields: {category: [newcat], slug: twin, name: First, summary: s}
- model: portal.service
  fields: {category: [newcat], slug: twin, name: Second, summary: s}
""",
    )
    with pytest.raises(CommandError) as error:
        call_command("loaddata", fixture, verbosity=0)
    assert "duplicate natural key ('twin',)" in str(error.value)
    assert row_counts() == dict.fromkeys(row_counts(), 0)


def test_malformed_fixture_is_refused_with_its_name(catalog, tmp_path):
    before = row_counts()
    fixture = write_fixture(tmp_path, GOOD_CATEGORY + "- model: portal.service\n  fields: [oops\n")
    with pytest.raises(CommandError) as error:
        call_command("loaddata", fixture, verbosity=0)
    assert "broken.yaml" in str(error.value)
    assert row_counts() == before


def test_fixture_with_unknown_field_names_it(db, tmp_path):
    fixture = write_fixture(
        tmp_path,
        "- model: portal.category\n"
        "  fields: {slug: x, name: X, title: X, summary: s, colour: red}\n",
    )
    with pytest.raises(CommandError) as error:
        call_command("loaddata", fixture, verbosity=0)
    assert "colour" in str(error.value)
    assert Category.objects.count() == 0


def test_fixture_missing_a_required_field_names_it(db, tmp_path):
    fixture = write_fixture(
        tmp_path, "- model: portal.category\n  fields: {slug: x, name: X, title: X}\n"
    )
    with pytest.raises(CommandError) as error:
        call_command("loaddata", fixture, verbosity=0)
    assert "summary:" in str(error.value)
    assert Category.objects.count() == 0


def refused_fixture(path) -> str:
    with pytest.raises(CommandError) as error:
        call_command("loaddata", str(path), verbosity=0)
    return str(error.value)


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (
            b"- model: portal.category\n  fields: {slug: x, name: \xff, title: X, summary: s}\n",
            "line 2: not UTF-8 text (byte 0xff)",
        ),
        (
            f"- model: portal.category\n  fields:\n    name:\n      {DEEP_BLOCK}\n".encode(),
            "line 4: nested deeper than 50 levels",
        ),
        (
            f"- model: portal.category\n  fields: {{name: {DEEP_FLOW}}}\n".encode(),
            "line 2: not valid YAML: ",
        ),
    ],
    ids=["not UTF-8", "deep block", "deep flow"],
)
def test_unusable_fixture_files_are_refused_naming_file_and_line(
    catalog, tmp_path, content, expected
):
    path = tmp_path / "broken.yaml"
    path.write_bytes(content)
    before = row_counts()
    assert f"Problem installing fixture '{path}': {expected}" in refused_fixture(path)
    assert row_counts() == before


def test_fixture_text_with_a_nul_character_names_row_and_field(catalog, tmp_path):
    path = write_fixture(
        tmp_path,
        GOOD_CATEGORY
        + """
- model: portal.service
  fields: {category: [newcat], slug: nul, name: "Nu\\0l", summary: s}
""",
    )
    before = row_counts()
    with translation.override("en"):
        message = refused_fixture(path)
    assert "portal.service 'nul': name: Null characters are not allowed." in message
    assert row_counts() == before


def test_a_billion_laughs_fixture_is_refused_at_once_in_bounded_memory(db, tmp_path):
    path = tmp_path / "laughs.yaml"
    path.write_text(
        f"- model: portal.category\n  fields: {{slug: x, name: {BILLION_LAUGHS}}}\n",
        encoding="utf-8",
    )
    message = refused_in_bounded_memory("loaddata", str(path))
    assert "line 2: anchors (&name) and aliases (*name) are not allowed" in message
    assert Category.objects.count() == 0
