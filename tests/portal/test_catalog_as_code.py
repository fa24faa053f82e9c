"""`catalog export` and `catalog import`: the catalog round-trips through YAML, and a bad
file is refused whole, with messages that name the file, the entry and the field."""

import ipaddress
import logging
from io import StringIO

import pytest
import yaml
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import translation

from portal.models import Category, ConfigNote, DataStore, FocusArea, HealthCheck, Service
from portal.pages import page_state
from portal.scans import scan_run
from tests.bad_yaml import BILLION_LAUGHS, DEEP_BLOCK, DEEP_FLOW, refused_in_bounded_memory


def export_text() -> str:
    out = StringIO()
    call_command("catalog", "export", stdout=out)
    return out.getvalue()


def run_import(path, *args) -> list[str]:
    out = StringIO()
    call_command("catalog", "import", str(path), *args, stdout=out)
    return out.getvalue().splitlines()


def snapshot():
    return (
        list(Category.objects.values()),
        list(Service.objects.values()),
        list(DataStore.objects.values()),
        sorted(DataStore.used_by.through.objects.values_list("datastore_id", "service_id")),
        sorted(Service.talks_to.through.objects.values_list("from_service_id", "to_service_id")),
        list(FocusArea.objects.values("category_id", "position", "text")),
        list(ConfigNote.objects.values("category_id", "position", "text", "is_access_touchpoint")),
    )


@pytest.fixture
def exported(catalog, tmp_path):
    path = tmp_path / "catalog.yaml"
    path.write_text(export_text(), encoding="utf-8")
    return path


def edit(path, change) -> None:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    change(data)
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")


def test_export_holds_the_whole_seed_catalog(catalog):
    data = yaml.safe_load(export_text())
    devops = data["categories"][0]
    assert devops["title"] == "DevOps Guide"
    assert [s["slug"] for s in devops["services"]] == [
        "admin-ui",
        "gitlab",
        "jenkins",
        "flower",
        "gitlab-runner",
    ]
    assert devops["services"][2]["talks_to"] == ["gitlab"]
    assert devops["data_stores"][3]["used_by"] == ["admin-ui", "flower"]
    assert devops["checklist"][0].startswith(
        "GitLab 로그인 문제 시 `/gitlab/users/auth/openid_connect`"
    )
    assert [n["access_touchpoint"] for n in devops["config_notes"]] == [True, True, False]


def test_reimporting_an_export_changes_nothing(exported):
    before = snapshot()
    revision = page_state()[0]
    assert run_import(exported) == ["No changes."]
    assert snapshot() == before
    assert page_state()[0] == revision


def test_export_import_round_trip_into_an_empty_catalog_loses_nothing(exported):
    original = exported.read_text(encoding="utf-8")
    Category.objects.all().delete()
    assert Service.objects.count() == 0
    changes = run_import(exported)
    assert "+ category devops" in changes and "+ service gitlab-runner" in changes
    assert export_text() == original


def test_import_reports_each_change(exported):
    def change(data):
        devops = data["categories"][0]
        devops["summary"] = "CI/CD and source control"
        devops["services"][2]["summary"] = "Pipelines"
        devops["services"][2]["talks_to"] = []
        devops["services"].append(
            {"slug": "nexus", "name": "Nexus", "summary": "Artifacts", "location": "/nexus"}
        )
        devops["focus_areas"].append("아티팩트 저장소(Nexus)")

    edit(exported, change)
    changes = run_import(exported)
    assert changes == [
        "~ category devops: summary",
        "~ service jenkins: summary",
        "+ service nexus",
        "~ category devops: focus_areas (4 → 5)",
        "~ service jenkins: talks_to",
    ]
    assert Service.objects.get(slug="nexus").position == 60
    assert Service.objects.get(slug="jenkins").talks_to.count() == 0
    assert FocusArea.objects.filter(category__slug="devops").count() == 5


def audited(caplog) -> list[logging.LogRecord]:
    return [record for record in caplog.records if record.name == "aixops.audit"]


def test_an_import_is_audited_with_what_it_changed_once_it_commits(
    exported, caplog, django_capture_on_commit_callbacks
):
    def change(data):
        devops = data["categories"][0]
        devops["summary"] = "CI/CD and source control"
        devops["services"].append({"slug": "nexus", "name": "Nexus", "summary": "Artifacts"})
        del data["categories"][1:]

    edit(exported, change)
    with caplog.at_level(logging.INFO, logger="aixops.audit"):
        with django_capture_on_commit_callbacks() as committing:
            changes = run_import(exported, "--prune")
        assert audited(caplog) == []  # not before the commit
        for callback in committing:
            callback()

    (record,) = audited(caplog)
    assert (record.audit_action, record.audit_actor) == ("catalog.import", "system")
    assert record.audit_changes == changes
    deleted = sum(line.startswith("- ") for line in changes)
    assert deleted > 2
    assert record.audit_counts == {"+": 1, "~": 1, "-": deleted}


def test_a_dry_run_or_an_import_that_changes_nothing_is_not_audited(
    exported, caplog, django_capture_on_commit_callbacks
):
    with (
        caplog.at_level(logging.INFO, logger="aixops.audit"),
        django_capture_on_commit_callbacks(execute=True) as committing,
    ):
        assert run_import(exported) == ["No changes."]
        edit(exported, lambda data: data["categories"][0].update(title="Renamed"))
        run_import(exported, "--dry-run")
    assert committing == []
    assert audited(caplog) == []


def test_group_limits_round_trip(exported):
    def change(data):
        devops = data["categories"][0]
        devops["services"][1]["visible_to_groups"] = ["/platform/sre", "/platform/devops"]
        devops["data_stores"][0]["visible_to_groups"] = ["/platform/devops"]
        data["categories"][1]["visible_to_groups"] = ["/platform/identity"]

    edit(exported, change)
    assert run_import(exported) == [
        "~ service gitlab: visible_to_groups",
        "~ data store gitlab-postgresql: visible_to_groups",
        "~ category identity-access: visible_to_groups",
    ]
    # Stored sorted, as the admin form stores them.
    gitlab = Service.objects.get(slug="gitlab")
    assert gitlab.visible_to_groups == ["/platform/devops", "/platform/sre"]
    data = yaml.safe_load(export_text())
    devops, identity, _workspaces = data["categories"]
    assert devops["services"][1]["visible_to_groups"] == ["/platform/devops", "/platform/sre"]
    assert devops["data_stores"][0]["visible_to_groups"] == ["/platform/devops"]
    assert identity["visible_to_groups"] == ["/platform/identity"]
    # Unlimited items carry no key; the same limits in another order are no change.
    assert "visible_to_groups" not in devops and "visible_to_groups" not in devops["services"][0]
    assert run_import(exported) == ["No changes."]
    # A file without the key lifts the limit: the file says who sees what.
    edit(exported, lambda data: data["categories"][1].pop("visible_to_groups"))
    assert run_import(exported) == ["~ category identity-access: visible_to_groups"]
    assert Category.objects.get(slug="identity-access").visible_to_groups == []


def test_badges_and_slos_round_trip_written_only_when_set(exported):
    def change(data):
        devops = data["categories"][0]
        devops["services"][1].update(public_badge=True, slo_target=99.5, slo_window_days=7)
        devops["data_stores"][0]["slo_target"] = 99

    edit(exported, change)
    assert run_import(exported) == [
        "~ service gitlab: public_badge, slo_target, slo_window_days",
        "~ data store gitlab-postgresql: slo_target",
    ]
    gitlab = Service.objects.get(slug="gitlab")
    assert (gitlab.public_badge, gitlab.slo_target, gitlab.slo_window_days) == (True, 99.5, 7)
    assert DataStore.objects.get(slug="gitlab-postgresql").slo_target == 99.0
    devops = yaml.safe_load(export_text())["categories"][0]
    assert {
        key: devops["services"][1][key] for key in ("public_badge", "slo_target", "slo_window_days")
    } == {"public_badge": True, "slo_target": 99.5, "slo_window_days": 7}
    assert devops["data_stores"][0]["slo_target"] == 99.0
    assert "slo_window_days" not in devops["data_stores"][0]
    # Defaults carry no key.
    assert not {"public_badge", "slo_target", "slo_window_days"} & set(devops["services"][0])
    assert run_import(exported) == ["No changes."]
    # A file without the keys sets the defaults back: the file says what is published.
    edit(exported, lambda data: data["categories"][0]["services"][1].pop("slo_target"))
    assert run_import(exported) == ["~ service gitlab: slo_target"]
    assert Service.objects.get(slug="gitlab").slo_target is None


def test_dry_run_reports_but_writes_nothing(exported):
    edit(exported, lambda data: data["categories"][0].update(title="Renamed"))
    before = snapshot()
    assert run_import(exported, "--dry-run") == [
        "~ category devops: title",
        "Dry run: nothing was written.",
    ]
    assert snapshot() == before


def test_prune_deletes_what_the_file_leaves_out(exported):
    edit(exported, lambda data: data["categories"].__delitem__(slice(1, None)))
    assert run_import(exported) == ["No changes."]
    changes = run_import(exported, "--prune")
    assert "- data store keycloak-postgresql" in changes
    assert "- service oauth2-proxy" in changes
    assert "- category identity-access" in changes
    assert "- service jupyterhub" in changes
    assert "- category workspaces" in changes
    assert list(Category.objects.values_list("slug", flat=True)) == ["devops"]


def refused(path) -> str:
    with pytest.raises(CommandError) as error:
        call_command("catalog", "import", str(path), stdout=StringIO())
    return str(error.value)


def test_a_bad_entry_names_file_entry_and_field_and_changes_nothing(exported):
    def change(data):
        devops = data["categories"][0]
        devops["title"] = "Changed but must not be written"
        devops["services"][1]["location"] = "ftp://gitlab.example.com"

    edit(exported, change)
    before = snapshot()
    message = refused(exported)
    assert "nothing was changed" in message
    assert f"{exported}: categories[0] 'devops' > services[1] 'gitlab': location: " in message
    assert snapshot() == before


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (
            lambda d: d["categories"][0]["services"][0].update(colour="red"),
            "services[0] 'admin-ui': colour: unknown field",
        ),
        (
            lambda d: d["categories"][0]["services"][0].pop("name"),
            "services[0] 'admin-ui': name: this field is required",
        ),
        (
            lambda d: d["categories"][0]["services"][0].update(hidden="no"),
            "hidden: expected bool, got 'no'",
        ),
        (
            lambda d: d["categories"][0].update(position="first"),
            "categories[0] 'devops': position: expected int, got 'first'",
        ),
        (
            lambda d: d["categories"][0]["services"][0].update(role="sidecar"),
            "services[0] 'admin-ui': role: ",
        ),
        (
            lambda d: d["categories"][1]["services"][0].update(slug="gitlab"),
            "duplicate service slug 'gitlab'",
        ),
        (
            lambda d: d["categories"][0]["services"][2].update(talks_to=["nowhere"]),
            "service 'jenkins': talks_to: no service 'nowhere'",
        ),
        (
            lambda d: d["categories"][0]["data_stores"][0].update(kind="spreadsheet"),
            "data_stores[0] 'gitlab-postgresql': kind: ",
        ),
        (
            lambda d: d["categories"][0]["services"][2].update(talks_to=["gitlab", "jenkins"]),
            "service 'jenkins': talks_to: A service cannot talk to itself.",
        ),
        (lambda d: d.update(colour="red"), "unknown top-level keys: colour"),
        (
            lambda d: d["categories"][0]["services"][1].update(public_badge="yes"),
            "services[1] 'gitlab': public_badge: expected bool, got 'yes'",
        ),
        (
            lambda d: d["categories"][0]["services"][1].update(slo_target="99.5%"),
            "services[1] 'gitlab': slo_target: expected float, got '99.5%'",
        ),
        (
            lambda d: d["categories"][0]["services"][1].update(slo_target=100),
            "services[1] 'gitlab': slo_target: Ensure this value is less than or equal to 99.999.",
        ),
        (
            lambda d: d["categories"][0]["data_stores"][0].update(slo_window_days=365),
            "'gitlab-postgresql': slo_window_days: Ensure this value is less than or equal to 90.",
        ),
        (
            lambda d: d["categories"][0]["data_stores"][0].update(slo_window_days=7.5),
            "'gitlab-postgresql': slo_window_days: expected int, got 7.5",
        ),
        (
            lambda d: d["categories"][0].update(visible_to_groups="/platform/devops"),
            "categories[0] 'devops': visible_to_groups: expected a list of group paths",
        ),
        (
            lambda d: d["categories"][0]["services"][1].update(visible_to_groups=["devops"]),
            "services[1] 'gitlab': visible_to_groups: devops is not a Keycloak group path",
        ),
        (
            lambda d: d["categories"][0]["data_stores"][0].update(
                visible_to_groups=["/platform/devops", "/platform/devops"]
            ),
            "'gitlab-postgresql': visible_to_groups: A group is listed twice.",
        ),
    ],
)
def test_bad_files_are_refused_whole(exported, change, expected):
    edit(exported, change)
    before = snapshot()
    with translation.override("en"):
        assert expected in refused(exported)
    assert snapshot() == before


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (lambda d: d["categories"][0].update(name="Dev\0Ops"), "categories[0] 'devops': name: "),
        (
            lambda d: d["categories"][0]["services"][1].update(summary="\0"),
            "services[1] 'gitlab': summary: ",
        ),
        (
            lambda d: d["categories"][0]["data_stores"][0].update(remark="a\0"),
            "data_stores[0] 'gitlab-postgresql': remark: ",
        ),
        (lambda d: d["categories"][0]["focus_areas"].insert(0, "a\0b"), "> focus_areas[0]: "),
        (lambda d: d["categories"][0]["checklist"].append("\0x"), "> checklist[3]: "),
        (
            lambda d: d["categories"][1]["config_notes"].append({"text": "\0"}),
            "'identity-access' > config_notes[3]: text: ",
        ),
    ],
    ids=["category", "service", "data store", "focus area", "checklist", "config note"],
)
def test_text_with_a_nul_character_is_refused_naming_entry_and_field(exported, change, expected):
    # PostgreSQL text cannot hold NUL (a DataError); SQLite would store it.
    edit(exported, change)
    before = snapshot()
    with translation.override("en"):
        message = refused(exported)
    assert f"{expected}Null characters are not allowed." in message
    assert message.startswith("1 problem(s)")
    assert snapshot() == before


def test_every_problem_is_reported_at_once(exported):
    def change(data):
        data["categories"][0]["services"][0]["location"] = "nope"
        data["categories"][1]["data_stores"][0]["kind"] = "spreadsheet"

    edit(exported, change)
    message = refused(exported)
    assert message.startswith("2 problem(s)")


def test_invalid_yaml_is_refused_with_its_line(catalog, tmp_path):
    path = tmp_path / "broken.yaml"
    path.write_text("categories:\n- slug: x\n  name: [unclosed\n", encoding="utf-8")
    message = refused(path)
    assert f"{path} (line " in message and "not valid YAML" in message


def test_missing_file_is_refused(db, tmp_path):
    assert "cannot read" in refused(tmp_path / "absent.yaml")


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b"categories:\n- slug: x\n  name: \xff\xfe\n", " (line 3): not UTF-8 text (byte 0xff)"),
        (f"categories:\n{DEEP_BLOCK}\n".encode(), " (line 2): nested deeper than 50 levels"),
        (f"categories: {DEEP_FLOW}\n".encode(), " (line 1): not valid YAML: "),
        (b"categories: [0" + b", 0" * 500_000 + b"]\n", " (line 1): more than 500,000 values"),
        (b"# padding\n" * 600_000, ": larger than the limit of 5 MB"),
    ],
    ids=["not UTF-8", "deep block", "deep flow", "too many values", "too large"],
)
def test_unusable_files_are_refused_at_once(exported, content, expected):
    exported.write_bytes(content)
    before = snapshot()
    message = refused(exported)
    assert f"{exported}{expected}" in message
    assert snapshot() == before


def test_a_billion_laughs_file_is_refused_at_once_in_bounded_memory(db, tmp_path):
    path = tmp_path / "laughs.yaml"
    path.write_text(
        f"categories:\n- {{slug: x, name: {BILLION_LAUGHS}, title: t, summary: s}}\n",
        encoding="utf-8",
    )
    message = refused_in_bounded_memory("catalog", "import", str(path))
    assert f"{path} (line 2): anchors (&name) and aliases (*name) are not allowed" in message
    assert not Category.objects.exists()


def locate(*args) -> str:
    out = StringIO()
    call_command("catalog", "locate", *args, stdout=out)
    return out.getvalue().strip()


def test_locate_points_a_services_links_where_it_runs(catalog, bob_client):
    # bin/run starts Flower on its own port and runs `catalog locate flower "$FLOWER_URL"`:
    # the portal serves no /flower, so the seed's path would be a 404 there.
    assert 'href="/flower">Flower</a>' in bob_client.get("/categories/devops/").text
    assert locate("flower", "http://127.0.0.1:5555") == "flower: /flower -> http://127.0.0.1:5555"
    page = bob_client.get("/categories/devops/").text
    assert '<a href="http://127.0.0.1:5555">Flower</a>' in page
    assert 'class="path" href="http://127.0.0.1:5555"' in page
    api = bob_client.get("/api/categories/devops/").json()
    assert next(s for s in api["services"] if s["slug"] == "flower")["location"] == (
        "http://127.0.0.1:5555"
    )
    revision = page_state()[0].number
    assert locate("flower", "http://127.0.0.1:5555") == "No changes."
    assert page_state()[0].number == revision


def test_locate_points_the_hubs_card_at_the_hub_bin_run_starts(catalog, bob_client):
    # bin/run: `catalog locate jupyterhub "$JUPYTERHUB_URL/hub/"`; the seed says /hub/.
    assert 'href="/hub/">JupyterHub</a>' in bob_client.get("/categories/workspaces/").text
    assert locate("jupyterhub", "http://127.0.0.1:8001/hub/") == (
        "jupyterhub: /hub/ -> http://127.0.0.1:8001/hub/"
    )
    page = bob_client.get("/categories/workspaces/").text
    assert '<a href="http://127.0.0.1:8001/hub/">JupyterHub</a>' in page


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["flower", "ftp://127.0.0.1/"], "flower: location: Enter a path such as /gitlab"),
        (["flower", "//evil.example/"], "not a protocol-relative URL"),
        (["nope", "/nope"], "No service 'nope' in the catalog."),
    ],
)
def test_locate_refuses_a_bad_location_or_service_and_changes_nothing(catalog, args, message):
    with translation.override("en"), pytest.raises(CommandError, match=message):
        locate(*args)
    assert Service.objects.get(slug="flower").location == "/flower"


@pytest.fixture
def local_checks(catalog):
    """The checks bin/run loads: Flower's and the hub's aimed at their default ports."""
    call_command("loaddata", "health_checks_local", verbosity=0)


def target_of(slug: str) -> str:
    return HealthCheck.objects.get(slug=slug).target


def test_locate_moves_the_services_local_check_with_it_and_the_check_reads_up(
    local_checks, http_server, caplog
):
    # bin/run with FLOWER_PORT=another: the card links there, so must the check probe.
    flower = f"http://127.0.0.1:{http_server.port}"
    with caplog.at_level(logging.INFO, logger="aixops.audit"):
        lines = locate("flower", flower).splitlines()
    assert lines == [
        f"flower: /flower -> {flower}",
        f"flower-local: http://127.0.0.1:5555/healthcheck -> {flower}/healthcheck",
    ]
    assert Service.objects.get(slug="flower").location == flower
    assert target_of("flower-local") == f"{flower}/healthcheck"
    check = HealthCheck.objects.get(slug="flower-local")
    summary = scan_run(check_ids=[check.pk])
    assert (summary["checked"], summary["up"]) == (1, 1)
    check.refresh_from_db()
    assert check.status == "up"

    (audited,) = [r for r in caplog.records if r.name == "aixops.audit"]
    assert (audited.audit_action, audited.audit_actor, audited.audit_service) == (
        "catalog.locate",
        "system",
        "flower",
    )
    assert audited.audit_changes == lines


def test_locate_run_twice_changes_and_audits_nothing_the_second_time(local_checks, caplog):
    locate("flower", "http://127.0.0.1:5601")
    revision = page_state()[0].number
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="aixops.audit"):
        assert locate("flower", "http://127.0.0.1:5601") == "No changes."
    assert page_state()[0].number == revision
    assert not [r for r in caplog.records if r.name == "aixops.audit"]


def test_locate_moves_a_check_the_link_already_matches(local_checks):
    # The links stayed where a first run put them, the checks were loaded again (bin/run
    # loads the fixture every time): the checks still follow.
    Service.objects.filter(slug="flower").update(location="http://127.0.0.1:5601")
    assert locate("flower", "http://127.0.0.1:5601") == (
        "flower-local: http://127.0.0.1:5555/healthcheck -> http://127.0.0.1:5601/healthcheck"
    )


def test_locate_moves_the_hubs_check_keeping_its_path(local_checks):
    # bin/run with HUB_PORT=8101: `catalog locate jupyterhub http://127.0.0.1:8101/hub/`.
    locate("jupyterhub", "http://127.0.0.1:8101/hub/")
    assert target_of("jupyterhub-local") == "http://127.0.0.1:8101/hub/health"


@pytest.mark.parametrize(
    "location",
    # Off this machine: a public address may front a tool probed on loopback.
    ["https://flower.example.com/", "/flower-two", "http://192.0.2.5:5555"],
)
def test_a_service_moved_off_this_machine_keeps_its_checks_where_they_were(local_checks, location):
    assert locate("flower", location) == f"flower: /flower -> {location}"
    assert target_of("flower-local") == "http://127.0.0.1:5555/healthcheck"


def test_checks_aimed_elsewhere_stay_where_an_admin_aimed_them(local_checks):
    flower = Service.objects.get(slug="flower")
    HealthCheck.objects.create(
        slug="flower-public", service=flower, target="https://flower.example.com/healthcheck"
    )
    HealthCheck.objects.create(slug="flower-path", service=flower, target="/flower/healthcheck")
    HealthCheck.objects.create(
        slug="flower-port", service=flower, kind="tcp", target="127.0.0.1:5555"
    )
    locate("flower", "http://127.0.0.1:5601")
    assert {slug: target_of(slug) for slug in ("flower-public", "flower-path", "flower-port")} == {
        "flower-public": "https://flower.example.com/healthcheck",
        "flower-path": "/flower/healthcheck",
        "flower-port": "127.0.0.1:5555",
    }


def test_a_check_that_may_not_probe_where_it_would_go_changes_nothing(local_checks, settings):
    settings.HEALTH_CHECK_DENY_NETWORKS = [ipaddress.ip_network("127.0.0.0/8")]
    with pytest.raises(CommandError, match=r"flower-local: .*HEALTH_CHECK_DENY_NETWORKS"):
        locate("flower", "http://127.0.0.1:5601")
    assert Service.objects.get(slug="flower").location == "/flower"
    assert target_of("flower-local") == "http://127.0.0.1:5555/healthcheck"
