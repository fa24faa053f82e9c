"""Health checks are validated when saved, naming the field; conditions never run code."""

import ipaddress
import time

import pytest
from django.core.exceptions import ValidationError
from django.core.management import CommandError, call_command

from portal.conditions import (
    MAX_CONDITION_LENGTH,
    Answer,
    ConditionError,
    parse_condition,
    parse_conditions,
)
from portal.models import ChecklistItem, DataStore, HealthCheck, Service
from portal.models.health import validate_target


def invalid_fields(**fields) -> set[str]:
    check = HealthCheck(slug="x", **fields)
    with pytest.raises(ValidationError) as caught:
        check.full_clean()
    return set(caught.value.message_dict)


@pytest.fixture
def gitlab(catalog):
    return Service.objects.get(slug="gitlab")


@pytest.mark.parametrize(
    ("kind", "target", "field"),
    [
        ("http", "file:///etc/passwd", "target"),
        ("http", "gopher://example.com/", "target"),
        ("http", "ftp://example.com/", "target"),
        ("http", "//example.com/health", "target"),
        ("http", "http://example.com:70000/", "target"),
        ("http", "https://:443/", "target"),
        ("tcp", "db.internal:0", "target"),
        ("tcp", "db.internal:65536", "target"),
        ("tcp", "db.internal", "target"),
        ("tcp", "http://db.internal:5432", "target"),
        ("redis", "http://cache:6379", "target"),
        ("redis", "redis://cache:99999/0", "target"),
        ("postgres", "mysql://db/x", "target"),
        ("postgres", "", "target"),
        ("http", "http://[::1/", "target"),
        ("http", "http://[10.0.0.1]/", "target"),
        ("http", "http://gitlab.example.com x/", "target"),
        ("postgres", "postgres://db-a,db-b/x", "target"),
        ("postgres", "postgres://db/x?service=production", "target"),
        ("postgres", "postgres://%2Fvar%2Frun%2Fpostgresql/x", "target"),
        ("postgres", "postgres://db/x?hostaddr=db.internal", "target"),
        ("postgres", "postgres://db/x?no_such_option=1", "target"),
        ("postgres", "postgres://db/%F7", "target"),
        ("http", "http://admin:secret@gitlab.example.com/", "target"),
        ("http", "http://169.254.169.254/", "target"),
    ],
)
def test_unusable_targets_are_refused_naming_the_field(gitlab, kind, target, field):
    assert field in invalid_fields(service=gitlab, kind=kind, target=target)


@pytest.mark.parametrize(
    ("kind", "target"),
    [
        ("http", "/gitlab/-/readiness"),
        ("http", "https://gitlab.example.com/-/health"),
        ("tcp", "gitlab-postgresql:5432"),
        ("tcp", "[::1]:6379"),
        ("redis", "redis://:secret@gitlab-redis:6379/0"),
        ("redis", ""),
        ("postgres", "postgresql://gitlab@gitlab-postgresql:5432/gitlabhq_production"),
        ("postgres", "postgres://gitlab@/gitlabhq_production?host=gitlab-postgresql"),
        ("postgres", "postgres://gitlab@gitlab-postgresql/x?hostaddr=10.0.3.7"),
        ("http", "http://10.0.0.5:8080/health"),
        ("http", "https://bücher.example/health"),
        ("tcp", "gitlab_redis.svc.cluster.local:6379"),
    ],
)
def test_usable_targets_pass(gitlab, kind, target):
    HealthCheck(slug="x", service=gitlab, kind=kind, target=target).full_clean()


@pytest.mark.parametrize(
    ("kind", "target", "shown"),
    [
        ("http", "http://169.254.169.254/latest/meta-data/", "169.254.169.254"),
        ("http", "http://2852039166/latest/meta-data/", "2852039166 (169.254.169.254)"),
        ("http", "http://0251.0376.0251.0376/", "0251.0376.0251.0376 (169.254.169.254)"),
        ("http", "http://0xa9fea9fe/", "0xa9fea9fe (169.254.169.254)"),
        ("http", "http://169.254.43518/", "169.254.43518 (169.254.169.254)"),
        ("http", "http://169.16689662/", "169.16689662 (169.254.169.254)"),
        ("http", "http://[::ffff:169.254.169.254]/", "::ffff:169.254.169.254 (169.254.169.254)"),
        ("http", "http://[fd00:ec2::254]/latest/meta-data/", "fd00:ec2::254"),
        ("http", "http://169.254.169.254./", "169.254.169.254. (169.254.169.254)"),
        (
            "http",
            "http://metadata.google.internal/computeMetadata/v1/",
            "metadata.google.internal (169.254.169.254)",
        ),
        (
            "http",
            "http://METADATA.GOOGLE.INTERNAL./computeMetadata/v1/",
            "metadata.google.internal. (169.254.169.254)",
        ),
        ("http", "http://100.100.100.200/latest/meta-data/", "100.100.100.200"),
        ("tcp", "169.254.169.254:80", "169.254.169.254"),
        ("tcp", "[fe80::1]:22", "fe80::1"),
        ("redis", "redis://%31%36%39.254.169.254:6379/0", "169.254.169.254"),
        ("redis", "rediss://metadata.goog:6380/0", "metadata.goog (169.254.169.254)"),
        ("postgres", "postgres://db/x?host=169.254.169.254", "169.254.169.254"),
        ("postgres", "postgres://db/x?hostaddr=169.254.169.254", "169.254.169.254"),
        ("postgres", "postgres://u@[fd00:ec2::254]:5432/x", "fd00:ec2::254"),
    ],
)
def test_targets_in_denied_networks_are_refused_in_any_spelling(kind, target, shown):
    with pytest.raises(ValidationError) as caught:
        validate_target(kind, target)
    [message] = caught.value.messages
    assert message.startswith(f"{shown} ")
    assert "HEALTH_CHECK_DENY_NETWORKS (" in message


@pytest.mark.parametrize(
    ("kind", "target"),
    [
        ("http", "http://admin:secret@gitlab.example.com/-/health"),
        ("http", "https://token@gitlab.example.com/-/health"),
        ("http", "http://gitlab.example.com@169.254.169.254/"),
        ("tcp", "admin@gitlab.example.com:22"),
    ],
)
def test_credentials_in_a_url_are_refused(kind, target):
    with pytest.raises(ValidationError, match=r"\(user:password@\)"):
        validate_target(kind, target)


def test_operators_choose_the_denied_networks(settings):
    settings.HEALTH_CHECK_DENY_NETWORKS = [ipaddress.ip_network("10.0.0.0/8")]
    denied = r"10\.1\.2\.3 .*HEALTH_CHECK_DENY_NETWORKS \(10\.0\.0\.0/8\)"
    with pytest.raises(ValidationError, match=denied):
        validate_target("tcp", "10.1.2.3:5432")
    validate_target("http", "http://169.254.169.254/")
    settings.HEALTH_CHECK_DENY_NETWORKS = []
    validate_target("http", "http://metadata.google.internal/")


def test_bad_condition_is_refused_naming_the_field(gitlab):
    fields = invalid_fields(
        service=gitlab, target="/gitlab", conditions="[STATUS] == 200\n[FOO] > 1"
    )
    assert fields == {"conditions"}


def test_conditions_belong_to_http_checks(gitlab):
    fields = invalid_fields(
        service=gitlab, kind="tcp", target="gitlab:22", conditions="[STATUS] == 200"
    )
    assert fields == {"conditions"}


def test_bad_status_codes_are_refused(gitlab):
    assert invalid_fields(service=gitlab, target="/g", accepted_statuses="200-abc") == {
        "accepted_statuses"
    }
    assert invalid_fields(service=gitlab, target="/g", accepted_statuses="700") == {
        "accepted_statuses"
    }


def test_a_check_belongs_to_one_service_or_one_store(gitlab):
    store = DataStore.objects.get(slug="gitlab-redis")
    assert "service" in invalid_fields(target="/g")
    assert "service" in invalid_fields(service=gitlab, data_store=store, target="/g")


def test_out_of_range_limits_are_refused(gitlab):
    assert invalid_fields(service=gitlab, target="/g", timeout=0, failures_before_down=0) == {
        "timeout",
        "failures_before_down",
    }


@pytest.mark.parametrize("target", ["file:///etc/passwd", "http://169.254.169.254/"])
def test_saving_an_unparseable_check_is_refused_outside_forms_too(gitlab, target):
    with pytest.raises(ValidationError):
        HealthCheck.objects.create(slug="x", service=gitlab, target=target)


def test_relative_targets_resolve_under_the_platform_base_url(gitlab, settings):
    check = HealthCheck(slug="x", service=gitlab, target="/gitlab/-/readiness")
    settings.PLATFORM_BASE_URL = "https://platform.example.com/"
    assert check.resolved_target() == "https://platform.example.com/gitlab/-/readiness"
    settings.PLATFORM_BASE_URL = ""
    assert check.resolved_target() == ""


def test_a_blank_redis_target_is_the_portals_broker(gitlab, settings):
    settings.CELERY_BROKER_URL = "redis://broker:6379/3"
    check = HealthCheck(slug="x", service=gitlab, kind="redis", target="")
    assert check.resolved_target() == "redis://broker:6379/3"


@pytest.mark.parametrize(
    ("fields", "refused"),
    [
        # A sign-in redirect must say where anonymous visitors go.
        ({"kind": "sso-redirect", "target": "/jenkins/"}, {"expected"}),
        ({"kind": "sso-redirect", "target": "/jenkins/", "expected": "gopher://x/"}, {"expected"}),
        (
            {"kind": "sso-redirect", "target": "/jenkins/", "expected": "http://169.254.169.254/"},
            {"expected"},
        ),
        ({"kind": "oidc", "target": "ftp://keycloak/realms/a"}, {"target"}),
        ({"kind": "oidc", "target": "https://admin:pw@keycloak/realms/a"}, {"target"}),
        (
            {"kind": "oidc", "target": "/keycloak/realms/a", "redirect_uri": "https://x/cb"},
            {"client_id"},
        ),
        (
            {
                "kind": "oidc",
                "target": "/keycloak/realms/a",
                "client_id": "c",
                "redirect_uri": "javascript:alert(1)",
            },
            {"redirect_uri"},
        ),
        ({"kind": "celery", "target": "http://broker:6379"}, {"target"}),
        # Options of one kind are refused on another, rather than silently ignored.
        ({"kind": "http", "target": "/g", "client_id": "c", "queue": "q"}, {"client_id", "queue"}),
        ({"kind": "celery", "target": "", "expected": "/oauth2/sign_in"}, {"expected"}),
        ({"kind": "http", "target": "/g", "warn_days": 400}, {"warn_days"}),
    ],
)
def test_options_of_the_new_kinds_are_validated_naming_the_field(gitlab, fields, refused):
    assert invalid_fields(service=gitlab, **fields) == refused


@pytest.mark.parametrize(
    "fields",
    [
        {"kind": "sso-redirect", "target": "/jenkins/", "expected": "/oauth2/sign_in"},
        {
            "kind": "oidc",
            "target": "/keycloak/realms/aixops",
            "client_id": "gitlab",
            "redirect_uri": "https://platform.example.com/gitlab/users/auth/openid_connect/callback",
        },
        {"kind": "celery", "target": "", "queue": "", "max_queue_length": 50},
        {"kind": "celery", "target": "redis://broker:6379/0", "queue": "celery"},
    ],
)
def test_usable_checks_of_the_new_kinds_pass(gitlab, fields):
    HealthCheck(slug="x", service=gitlab, **fields).full_clean()


def test_a_sign_in_path_is_read_on_the_tools_host_and_an_issuer_path_on_the_platform(
    gitlab, settings
):
    settings.PLATFORM_BASE_URL = "https://platform.example.com/"
    sso = HealthCheck(slug="x", service=gitlab, kind="sso-redirect", expected="/oauth2/")
    oidc = HealthCheck(slug="y", service=gitlab, kind="oidc", expected="/keycloak/realms/a")
    assert sso.resolved_expected() == "/oauth2/"
    assert oidc.resolved_expected() == "https://platform.example.com/keycloak/realms/a"


def test_a_blank_celery_target_is_the_portals_broker_queue_and_namespace(gitlab, settings):
    settings.CELERY_BROKER_URL = "redis://broker:6379/3"
    settings.CELERY_TASK_DEFAULT_QUEUE = "blue"
    settings.CELERY_BROKER_TRANSPORT_OPTIONS = {"global_keyprefix": "blue:"}
    own = HealthCheck(slug="x", service=gitlab, kind="celery", target="")
    assert (own.resolved_target(), own.resolved_queue(), own.broker_key_prefix()) == (
        "redis://broker:6379/3",
        "blue",
        "blue:",
    )
    other = HealthCheck(slug="y", service=gitlab, kind="celery", target="redis://other/0")
    assert (other.resolved_queue(), other.broker_key_prefix()) == ("blue", "")


class TestConditions:
    def test_parses_the_three_placeholders(self):
        status, time, body = parse_conditions(
            "[STATUS] == 200\n\n[RESPONSE_TIME] < 300\n[BODY].status == UP"
        )
        assert (status.placeholder, status.op, status.value) == ("STATUS", "==", "200")
        assert (time.placeholder, time.op) == ("RESPONSE_TIME", "<")
        assert (body.path, body.value) == (("status",), "UP")

    def test_evaluates_against_an_answer(self):
        answer = Answer(status=200, response_time_ms=120.0, body=b'{"status": "UP", "n": [3]}')
        assert parse_condition("[STATUS] == 200").evaluate(answer)
        assert parse_condition("[RESPONSE_TIME] < 300").evaluate(answer)
        assert not parse_condition("[RESPONSE_TIME] > 300").evaluate(answer)
        assert parse_condition("[BODY].status == UP").evaluate(answer)
        assert parse_condition("[BODY].n[0] >= 3").evaluate(answer)
        assert not parse_condition("[BODY].missing == UP").evaluate(answer)
        assert not parse_condition("[BODY].status > 3").evaluate(answer)

    def test_quoted_values_and_plain_bodies(self):
        answer = Answer(status=200, response_time_ms=1.0, body=b"OK\n")
        assert parse_condition('[BODY] == "OK"').evaluate(answer)

    @pytest.mark.parametrize(
        "text",
        [
            "__import__('os').system('true')",
            "[STATUS] = 200",
            "[STATUS] == two hundred",
            "[RESPONSE_TIME].x < 3",
            "[BODY].status ==",
            "[HEADERS].x == 1",
        ],
    )
    def test_refuses_anything_else(self, text):
        with pytest.raises(ConditionError):
            parse_condition(text)

    @pytest.mark.parametrize(
        ("text", "milliseconds"),
        [("48h", 172_800_000), ("7d", 604_800_000), ("1h30m", 5_400_000), ("500", 500)],
    )
    def test_certificate_expiration_reads_durations_as_gatus_does(self, text, milliseconds):
        condition = parse_condition(f"[CERTIFICATE_EXPIRATION] > {text}")
        assert float(condition.value) == milliseconds
        assert condition.evaluate(Answer(200, 1, certificate_expiration_ms=milliseconds + 1))
        assert not condition.evaluate(Answer(200, 1, certificate_expiration_ms=milliseconds))
        # Over plain HTTP there is no certificate: the condition fails.
        assert not condition.evaluate(Answer(200, 1))

    def test_certificate_expiration_wants_a_duration(self):
        with pytest.raises(ConditionError, match="duration such as 48h"):
            parse_condition("[CERTIFICATE_EXPIRATION] > soon")

    def test_errors_name_the_line(self):
        with pytest.raises(ConditionError, match="line 2"):
            parse_conditions("[STATUS] == 200\nnonsense")

    @pytest.mark.parametrize(
        "text",
        [
            "[BODY].status == UP" + " " * 120_000 + "x",
            "[BODY].status" + " " * 120_000 + "== UP",
            "[STATUS] == 200\n" + " " * 120_000 + "[STATUS] == 200",
        ],
    )
    def test_a_long_run_of_spaces_is_refused_at_once(self, text):
        started = time.perf_counter()
        with pytest.raises(ConditionError, match="at most"):
            parse_conditions(text)
        assert time.perf_counter() - started < 0.5

    def test_a_condition_line_is_bounded(self):
        line = "[BODY].status == " + "U" * MAX_CONDITION_LENGTH
        limit = f"line 2: a condition is at most {MAX_CONDITION_LENGTH} characters"
        with pytest.raises(ConditionError, match=limit):
            parse_conditions(f"[STATUS] == 200\n{line}")

    def test_spaces_around_a_condition_are_not_part_of_it(self):
        condition = parse_condition("   [BODY].status   ==   UP   ")
        assert (condition.text, condition.path, condition.value) == (
            "[BODY].status   ==   UP",
            ("status",),
            "UP",
        )


def test_shipped_health_fixtures_load_twice_without_changes(catalog):
    call_command("loaddata", "health_checks", verbosity=0)
    first = list(HealthCheck.objects.order_by("slug").values())
    assert {row["slug"] for row in first} >= {"gitlab-http", "gitlab-postgresql-tcp"}
    call_command("loaddata", "health_checks", verbosity=0)
    assert list(HealthCheck.objects.order_by("slug").values()) == first


def test_embedded_health_fixture_checks_what_runs_locally(catalog):
    call_command("loaddata", "health_checks_local", verbosity=0)
    kinds = dict(HealthCheck.objects.values_list("slug", "kind"))
    assert kinds == {
        "admin-ui-local": "http",
        "admin-ui-sso-redirect-local": "sso-redirect",
        "admin-ui-workers-local": "celery",
        "flower-local": "http",
        "celery-redis-local": "redis",
        "keycloak-oidc-local": "oidc",
        "jupyterhub-local": "http",
    }


@pytest.mark.parametrize(
    ("fixture", "bound"),
    [
        (
            "health_checks",
            {
                1: {"gitlab-sso-redirect", "keycloak-oidc"},
                2: {"jenkins-sso-redirect"},
                3: {"admin-ui-workers", "celery-redis-ping", "flower-http"},
            },
        ),
        (
            "health_checks_local",
            {
                1: {"keycloak-oidc-local"},
                2: {"admin-ui-sso-redirect-local"},
                3: {"admin-ui-workers-local", "celery-redis-local", "flower-local"},
            },
        ),
    ],
)
def test_the_seed_checklist_steps_are_bound_to_their_checks(catalog, fixture, bound):
    call_command("loaddata", fixture, verbosity=0)
    steps = ChecklistItem.objects.filter(category__slug="devops").prefetch_related("checks")
    assert {step.position: {check.slug for check in step.checks.all()} for step in steps} == bound


@pytest.mark.parametrize(
    ("fixture", "bound"),
    [
        ("health_checks", {1: {"jupyterhub-http"}, 2: {"jupyterhub-http"}, 3: set()}),
        ("health_checks_local", {1: {"jupyterhub-local"}, 2: {"jupyterhub-local"}, 3: set()}),
    ],
)
def test_the_workspaces_steps_are_bound_to_the_hubs_health(catalog, fixture, bound):
    # A member's server spawning is no probe's to try: that step stays the operator's.
    call_command("loaddata", fixture, verbosity=0)
    steps = ChecklistItem.objects.filter(category__slug="workspaces").prefetch_related("checks")
    assert {step.position: {check.slug for check in step.checks.all()} for step in steps} == bound


@pytest.mark.parametrize(
    ("target", "problem"),
    [("file:///etc/passwd", "target"), ("http://0xa9fea9fe/", "HEALTH_CHECK_DENY_NETWORKS")],
)
def test_a_fixture_with_a_bad_check_is_refused(catalog, tmp_path, settings, target, problem):
    (tmp_path / "bad_checks.yaml").write_text(
        "- model: portal.healthcheck\n"
        f"  fields: {{slug: bad, service: [gitlab], kind: http, target: '{target}'}}\n"
    )
    settings.FIXTURE_DIRS = [tmp_path]
    with pytest.raises(CommandError, match=problem):
        call_command("loaddata", "bad_checks", verbosity=0)
    assert not HealthCheck.objects.filter(slug="bad").exists()
