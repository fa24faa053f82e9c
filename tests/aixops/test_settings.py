"""Production settings refuse to start half-configured, naming the variable."""

import json
import os
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
REAL_SECRET = "k3J9x!f0QpZ2vL8mW4rT6yU1oI5aS7dF9gH2jK4lZ6xC8vB0nM_prod-secret-value"
# Not connected to by `check`; any shared cache will do.
SHARED_CACHE = "redis://cache.example.com:6379/1"


def run_check(**overrides) -> subprocess.CompletedProcess:
    """`manage.py check` with these variables; None unsets one."""
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in {"SECRET_KEY", "ALLOWED_HOSTS", "DEBUG", "DJANGO_SETTINGS_MODULE"}
    }
    env["CACHE_URL"] = SHARED_CACHE
    env.update(overrides)
    return subprocess.run(
        [sys.executable, "manage.py", "check"],
        cwd=ROOT,
        env={key: value for key, value in env.items() if value is not None},
        capture_output=True,
        text=True,
        timeout=60,
    )


def printed_by_settings(expression: str, **variables) -> str:
    """What `expression` (over `s`, the settings, with `json` at hand) prints, as the
    settings read these variables (None unsets one)."""
    env = {**os.environ, **variables}
    result = subprocess.run(
        [
            *(sys.executable, "manage.py", "shell", "-c"),
            f"import json; from django.conf import settings as s; print('value:', {expression})",
        ],
        cwd=ROOT,
        env={key: value for key, value in env.items() if value is not None},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    [line] = [line for line in result.stdout.splitlines() if line.startswith("value:")]
    return line.removeprefix("value:").strip()


def networks_read(setting: str, **variables) -> str:
    """The networks a list setting holds, as the settings read these variables: their
    CIDRs, space-separated."""
    return printed_by_settings(f"*s.{setting}", **variables)


def test_production_refuses_the_development_secret():
    result = run_check(DEBUG="false", ALLOWED_HOSTS="portal.example.com")
    assert result.returncode != 0
    assert "SECRET_KEY must be set to a real secret when DEBUG is false" in result.stderr


def test_production_refuses_a_short_secret():
    result = run_check(DEBUG="false", SECRET_KEY="short", ALLOWED_HOSTS="portal.example.com")
    assert result.returncode != 0
    assert "SECRET_KEY must be a random value of at least 50 characters" in result.stderr


@pytest.mark.parametrize("hosts", [None, "", "*"])
def test_production_requires_allowed_hosts(hosts):
    overrides = {"DEBUG": "false", "SECRET_KEY": REAL_SECRET}
    if hosts is not None:
        overrides["ALLOWED_HOSTS"] = hosts
    result = run_check(**overrides)
    assert result.returncode != 0
    assert "ALLOWED_HOSTS must list the portal's host names" in result.stderr


@pytest.mark.parametrize("cache_url", [None, "locmemcache://", "dummycache://"])
def test_production_refuses_a_cache_each_worker_keeps_to_itself(cache_url):
    result = run_check(
        DEBUG="false", SECRET_KEY=REAL_SECRET, ALLOWED_HOSTS="p.example.com", CACHE_URL=cache_url
    )
    assert result.returncode != 0
    assert "CACHE_URL must name a cache all web workers share" in result.stderr


def test_production_starts_when_configured():
    result = run_check(DEBUG="false", SECRET_KEY=REAL_SECRET, ALLOWED_HOSTS="portal.example.com")
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("DEBUG", "maybe", "DEBUG must be true or false, not 'maybe'"),
        ("CONN_MAX_AGE", "soon", "CONN_MAX_AGE must be a whole number, not 'soon'"),
        ("CONN_HEALTH_CHECKS", "often", "CONN_HEALTH_CHECKS must be true or false, not 'often'"),
        ("LANGUAGE_CODE", "fr", "LANGUAGE_CODE must be one of ko, en, not 'fr'"),
        (
            "ALERT_WEBHOOK_URL",
            "hooks.example.com/aixops",
            "ALERT_WEBHOOK_URL must be an http(s) URL, not 'hooks.example.com/aixops'",
        ),
        ("ALERT_DELIVERY_ATTEMPTS", "0", "ALERT_DELIVERY_ATTEMPTS must be at least 1, not 0"),
        ("HEALTH_RETENTION_HOURS", "0", "HEALTH_RETENTION_HOURS must be at least 1, not 0"),
        ("HEALTH_RETENTION_HOURS", "2d", "HEALTH_RETENTION_HOURS must be a whole number"),
        (
            "HEALTH_ROLLUP_RETENTION_DAYS",
            "6",
            "HEALTH_ROLLUP_RETENTION_DAYS must be at least 7, not 6",
        ),
        (
            "HEALTH_RETENTION_DAYS",
            "14",
            "HEALTH_RETENTION_DAYS is replaced by HEALTH_RETENTION_HOURS",
        ),
        ("RELEASE", "v1 beta", "RELEASE must be letters, digits, '.', '_', '+' and '-'"),
    ],
)
def test_malformed_settings_are_named(name, value, message):
    result = run_check(**{name: value})
    assert result.returncode != 0
    assert message in result.stderr


def test_embedded_defaults(settings):
    assert settings.TIME_ZONE == "Asia/Seoul" or "TIME_ZONE" in os.environ
    assert settings.LANGUAGE_CODE == "ko" or "LANGUAGE_CODE" in os.environ
    assert settings.AUTH_USER_MODEL == "accounts.User"


def test_csrf_trusted_origins_need_a_scheme():
    result = run_check(CSRF_TRUSTED_ORIGINS="portal.example.com")
    assert result.returncode != 0
    assert "CSRF_TRUSTED_ORIGINS entries need a scheme" in result.stderr


def test_production_defaults_are_secure():
    script = (
        "from django.conf import settings as s; "
        "print(s.SECURE_SSL_REDIRECT, s.SESSION_COOKIE_SECURE, s.CSRF_COOKIE_SECURE, "
        "s.SECURE_HSTS_SECONDS, s.SECURE_PROXY_SSL_HEADER, "
        "[str(n) for n in s.TRUSTED_PROXY_NETWORKS])"
    )
    env_overrides = {
        "DEBUG": "false",
        "SECRET_KEY": REAL_SECRET,
        "ALLOWED_HOSTS": "p.example.com",
        "CACHE_URL": SHARED_CACHE,
    }
    env = {k: v for k, v in os.environ.items() if k not in {"DEBUG", "SECRET_KEY", "ALLOWED_HOSTS"}}
    env.update(env_overrides)
    result = subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", script],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split("\n")[-2] == (
        "True True True 31536000 ('HTTP_X_FORWARDED_PROTO', 'https') "
        "['127.0.0.1/32', '::1/128']"  # nginx on the same host
    )


@pytest.mark.parametrize("value", ["nginx.internal", "10.0.0.300"])
def test_proxy_addresses_must_be_addresses(value):
    result = run_check(BEHIND_PROXY="true", FORWARDED_ALLOW_IPS=value)
    assert result.returncode != 0
    assert f"FORWARDED_ALLOW_IPS: '{value}' does not appear to be" in result.stderr


@pytest.mark.parametrize(
    ("value", "networks"),
    [
        ("10.0.0.5, 10.1.0.0/16", "10.0.0.5/32 10.1.0.0/16"),
        ("*", "0.0.0.0/0 ::/0"),  # as gunicorn reads it: any peer
    ],
)
def test_proxy_addresses_are_read_as_gunicorn_reads_them(value, networks):
    read = networks_read("TRUSTED_PROXY_NETWORKS", BEHIND_PROXY="true", FORWARDED_ALLOW_IPS=value)
    assert read == networks


def test_a_malformed_deny_list_stops_start_up_naming_it():
    result = run_check(HEALTH_CHECK_DENY_NETWORKS="169.254.0.0/16, metadata.google.internal")
    assert result.returncode != 0
    assert "HEALTH_CHECK_DENY_NETWORKS: 'metadata.google.internal' does not appear" in (
        result.stderr
    )


@pytest.mark.parametrize(
    ("value", "networks"),
    [
        (
            None,
            "169.254.0.0/16 fe80::/10 fd00:ec2::254/128 fd20:ce::254/128 100.100.100.200/32 "
            "168.63.129.16/32",
        ),
        ("169.254.0.0/16,fe80::/10,10.0.0.0/8", "169.254.0.0/16 fe80::/10 10.0.0.0/8"),
        ("none", ""),
        ("", ""),
    ],
)
def test_operators_choose_the_networks_health_checks_may_not_probe(value, networks):
    read = networks_read("HEALTH_CHECK_DENY_NETWORKS", HEALTH_CHECK_DENY_NETWORKS=value)
    assert read == networks


def test_sign_out_may_be_redirected_to_keycloak_under_the_content_security_policy():
    script = "from csp.utils import build_policy; print(build_policy())"
    result = subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", script],
        cwd=ROOT,
        env={
            **os.environ,
            "OIDC_ISSUER": "https://sso.example.com/realms/aixops",
            "OIDC_LOGOUT_ENDPOINT": "https://logout.example.com/end-session",
        },
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    policy = result.stdout.strip().splitlines()[-1]
    directives = dict(part.split(" ", 1) for part in policy.split("; "))  # in no set order
    assert directives["form-action"] == "'self' https://logout.example.com https://sso.example.com"
    assert directives["script-src"] == "'self'" and "unsafe-inline" not in policy


@pytest.mark.parametrize(
    ("variables", "message"),
    [
        ({}, "JUPYTERHUB_URL must be the hub's http(s):// address"),
        ({"JUPYTERHUB_URL": "hub.example.com"}, "JUPYTERHUB_URL must be the hub's http(s)://"),
        (
            {"JUPYTERHUB_URL": "https://hub.example.com"},
            "JUPYTERHUB_API_TOKEN must be set to a hub service token",
        ),
        (
            {
                "JUPYTERHUB_URL": "https://hub.example.com",
                "JUPYTERHUB_API_TOKEN": "a-token",
                "JUPYTERHUB_START_TIMEOUT": "240",
            },
            "JUPYTERHUB_START_TIMEOUT must be shorter than the workspace task's soft time limit",
        ),
    ],
)
def test_the_jupyterhub_backend_needs_its_hub(variables, message):
    hub = {"JUPYTERHUB_URL": None, "JUPYTERHUB_API_TOKEN": None, **variables}
    result = run_check(WORKSPACE_BACKEND="jupyterhub", **hub)
    assert result.returncode != 0
    assert message in result.stderr


def test_the_jupyterhub_backend_starts_when_configured():
    result = run_check(
        WORKSPACE_BACKEND="jupyterhub",
        JUPYTERHUB_URL="https://hub.example.com",
        JUPYTERHUB_API_TOKEN="a-token",
    )
    assert result.returncode == 0, result.stderr


def cache_prefixes(**variables) -> list[str]:
    """The key prefixes of the default and sessions caches these variables give."""
    prefixes = "[s.CACHES[a].get('KEY_PREFIX', '') for a in ('default', 'sessions')]"
    return json.loads(printed_by_settings(f"json.dumps({prefixes})", **variables))


def test_cached_values_are_kept_under_the_release():
    version = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    assert cache_prefixes(RELEASE=None) == [f"release-{version}", ""]
    assert cache_prefixes(
        RELEASE="2026.12.06-4e5088d", CACHE_URL="redis://cache.example.com:6379/1?key_prefix=ci"
    ) == ["ci:release-2026.12.06-4e5088d", "ci"]


@pytest.mark.parametrize(
    ("variables", "copies"),
    [
        ({"CACHE_URL": SHARED_CACHE}, "8"),
        # The default cache is the process's own already: no second copy.
        ({"CACHE_URL": "locmemcache://aixops"}, "0"),
        ({"CACHE_URL": SHARED_CACHE, "PAGE_COPIES": "2"}, "2"),
    ],
)
def test_web_processes_keep_their_own_copy_of_pages_only_before_a_shared_cache(
    variables, copies
):
    result = subprocess.run(
        [
            *(sys.executable, "manage.py", "shell", "-c"),
            "from django.conf import settings as s; print('copies:', s.PAGE_COPIES)",
        ],
        cwd=ROOT,
        env={**os.environ, **variables},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert f"copies: {copies}" in result.stdout.splitlines()


def test_a_negative_number_of_page_copies_is_refused_by_name():
    result = subprocess.run(
        [*(sys.executable, "manage.py", "check")],
        cwd=ROOT,
        env={**os.environ, "PAGE_COPIES": "-1"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    assert "PAGE_COPIES must be at least 0" in result.stderr
