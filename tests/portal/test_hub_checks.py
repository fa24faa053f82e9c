"""The Workspaces category's checks against a real JupyterHub (tests/hub.py): the local
fixture's check of the hub bin/run starts, and production's paths under the platform
domain and the realm's `jupyterhub` client (the dev provider), run by a scan."""

import pytest
from django.core.management import call_command

from devtools.oidc_provider import running_provider
from portal.models import ChecklistItem, HealthCheck
from portal.scans import scan_run
from tests.hub import hub  # noqa: F401  (the module's running hub)

pytestmark = pytest.mark.integration


def test_the_local_hub_check_passes_and_ticks_its_steps(transactional_db, hub):  # noqa: F811
    call_command("loaddata", "catalog", "health_checks_local", verbosity=0)
    check = HealthCheck.objects.get(slug="jupyterhub-local")
    # bin/run starts the hub on HUB_PORT, 8001 unless told; this one has a free port.
    assert check.target == "http://127.0.0.1:8001/hub/health"
    check.target = f"{hub.url}/hub/health"
    check.save(update_fields=["target"])
    summary = scan_run(check_ids=[check.pk])
    assert (summary["checked"], summary["up"]) == (1, 1)
    check.refresh_from_db()
    assert check.detail == "HTTP 200"
    api, proxy, spawn = ChecklistItem.objects.filter(category__slug="workspaces").order_by(
        "position"
    )
    assert {c.status for c in api.checks.all()} == {c.status for c in proxy.checks.all()} == {"up"}
    assert not spawn.checks.exists()


def test_production_hub_checks_pass_on_the_hubs_paths(transactional_db, settings, hub):  # noqa: F811
    # The hub's proxy stands for the platform domain, which serves /hub/ the same way.
    settings.PLATFORM_BASE_URL = hub.url
    call_command("loaddata", "catalog", "health_checks", verbosity=0)
    checks = HealthCheck.objects.filter(service__slug="jupyterhub")
    # The realm knows the hub's client as it does in production: its callback on the hub.
    with running_provider(clients=[hub.provider_client()], test_hooks=False) as realm:
        settings.OIDC_ISSUER = realm.issuer
        summary = scan_run(check_ids=[check.pk for check in checks])
    assert (summary["checked"], summary["up"]) == (3, 3)
    assert dict(checks.values_list("slug", "detail")) == {
        "jupyterhub-http": "HTTP 200",
        "jupyterhub-sso-redirect": f"sends to sign in: HTTP 302 to {hub.url}/hub/login",
        "jupyterhub-oidc": (
            "issuer matches, 1 signing key (RS256), clock within 30 s, "
            "authorization request of jupyterhub accepted"
        ),
    }
