"""schemathesis drives every API operation with data generated from /api/openapi.json,
signed in with a staff member's personal API token, in-process (WSGI): no answer may be a
server error or break the schema the API publishes."""

import pytest
import schemathesis
from django.core.management import call_command
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from hypothesis import HealthCheck, settings

from accounts.models import ApiToken

# Few examples per operation: the point is every operation and every documented answer,
# kept well under half a minute for the default suite.
EXAMPLES = settings(
    max_examples=12,
    deadline=None,
    derandomize=True,
    suppress_health_check=list(HealthCheck),
)


# Loaded once, at collection, from the portal's own WSGI application (the schema needs no
# database). schemathesis' fixture-based loader does not run on pytest 9.
schema = schemathesis.openapi.from_wsgi("/api/openapi.json", get_wsgi_application())


@pytest.fixture(autouse=True)
def requests_keep_the_test_transaction():
    """As Django's test client does: requests leave the test's database connection (and
    its transaction) open."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@pytest.fixture
def staff_token(db, sam, carol, bob, settings):
    """A catalog, someone to decide on, and the token of sam (staff, not a superuser)."""
    # schemathesis also sends wrong tokens on purpose (the ignored-auth check).
    settings.API_TOKEN_FAILURE_LIMIT = 10_000
    call_command("loaddata", "catalog", verbosity=0)
    _, secret = ApiToken.objects.issue(owner=sam, name="schemathesis", by=sam)
    return secret


@schema.parametrize()
@EXAMPLES
def test_the_api_keeps_to_its_schema(case, staff_token):
    signed_in = f"Bearer {staff_token}"
    response = case.call_and_validate(headers={"Authorization": signed_in})
    # schemathesis also sends no or a wrong Authorization on purpose (and checks that the
    # API refuses them); the staff token itself is never refused.
    if response.request.headers.get("Authorization") == signed_in:
        assert response.status_code not in (401, 429)
