"""Every request reads its signed-in user afresh (accounts/backends.py): a change to the
row (a suspension, a deactivation, a deletion) shows at the next page."""

import pytest
from django.contrib.auth import SESSION_KEY
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts.backends import LocalAccountBackend
from accounts.models import User
from accounts.oidc.backend import PortalOIDCBackend


@pytest.mark.parametrize("backend", [LocalAccountBackend, PortalOIDCBackend])
def test_both_backends_read_the_user_in_one_query(bob, backend):
    with CaptureQueriesContext(connection) as queries:
        user = backend().get_user(str(bob.pk))
    assert user == bob and len(queries) == 1


@pytest.mark.parametrize("pk", ["not-a-number", None, "999999"])
def test_a_session_naming_no_user_reads_none(db, pk):
    assert LocalAccountBackend().get_user(pk) is None


def test_a_deactivated_user_is_signed_out_at_the_next_page(catalog, bob, bob_client):
    assert bob_client.get("/categories/devops/").status_code == 200
    User.objects.filter(pk=bob.pk).update(is_active=False)
    response = bob_client.get("/categories/devops/")
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def test_a_suspension_takes_effect_at_the_next_page(catalog, bob, alice, bob_client):
    assert bob_client.get("/categories/devops/").status_code == 200
    bob.suspend(by=alice)
    assert bob_client.get("/categories/devops/").status_code == 403


def test_a_session_whose_user_was_deleted_is_anonymous(catalog, bob, bob_client):
    assert bob_client.session[SESSION_KEY] == str(bob.pk)
    User.objects.filter(pk=bob.pk).delete()
    assert bob_client.get("/categories/devops/").status_code == 302
