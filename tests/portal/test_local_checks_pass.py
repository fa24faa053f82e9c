"""What bin/run checks really passes: the local fixture's single sign-on checks against
the dev OpenID provider's realm and the portal itself, run by a scan."""

import pytest
from django.core.management import call_command

from devtools.oidc_provider import running_provider
from portal.models import ChecklistItem, HealthCheck
from portal.scans import scan_run

pytestmark = pytest.mark.integration


def test_the_local_sign_in_checks_pass_and_tick_their_steps(
    transactional_db, live_server, settings
):
    settings.PLATFORM_BASE_URL = live_server.url
    # As bin/run registers the portal's client with the provider it starts.
    client = {
        "client_id": "aixops-portal",
        "client_secret": "dev",
        "redirect_uris": [f"{live_server.url}/oidc/callback/"],
    }
    with running_provider(clients=[client], test_hooks=False) as op:
        settings.OIDC_ISSUER = op.issuer
        call_command("loaddata", "catalog", "health_checks_local", verbosity=0)
        checks = HealthCheck.objects.filter(
            slug__in=["keycloak-oidc-local", "admin-ui-sso-redirect-local"]
        )
        summary = scan_run(check_ids=[check.pk for check in checks])
    assert (summary["checked"], summary["up"]) == (2, 2)
    details = dict(checks.values_list("slug", "detail"))
    assert details == {
        "keycloak-oidc-local": (
            "issuer matches, 1 signing key (RS256), clock within 30 s, "
            "authorization request of aixops-portal accepted"
        ),
        "admin-ui-sso-redirect-local": (
            f"sends to sign in: HTTP 302 to {live_server.url}/accounts/login/"
        ),
    }
    first, second = ChecklistItem.objects.filter(category__slug="devops").order_by("position")[:2]
    assert {check.status for check in first.checks.all()} == {"up"}
    assert {check.status for check in second.checks.all()} == {"up"}
