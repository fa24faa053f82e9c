"""Every request reads its signed-in user afresh (accounts/backends.py), with a query
compiled once (aixops/queries.py): the same user the ORM reads, and changes show at once."""

import pytest
from django.contrib.auth import SESSION_KEY
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts.models import User
from aixops.queries import PreparedLookup


def test_reads_the_same_user_as_the_orm(bob):
    User.objects.filter(pk=bob.pk).update(last_login=timezone.now())
    fresh = User.objects.signed_in(bob.pk)
    expected = User.objects.get(pk=bob.pk)
    for field in User._meta.concrete_fields:
        assert getattr(fresh, field.attname) == getattr(expected, field.attname), field.name
    # Converted like the ORM converts: datetimes and booleans, not the database's text.
    assert fresh.last_login == expected.last_login and fresh.last_login.tzinfo is not None
    assert fresh.is_active is True
    assert fresh._state.adding is False and fresh._state.db == "default"


def test_one_query_per_lookup(bob):
    User.objects.signed_in(bob.pk)
    with CaptureQueriesContext(connection) as queries:
        User.objects.signed_in(bob.pk)
    assert len(queries) == 1
    assert "ORDER BY" not in queries[0]["sql"]


@pytest.mark.parametrize("pk", ["not-a-number", None, "999999"])
def test_a_session_naming_no_user_reads_none(db, pk):
    assert User.objects.signed_in(pk) is None


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


def test_a_lookup_whose_parameters_do_not_line_up_is_refused(db):
    lookup = PreparedLookup(lambda pk: User.objects.filter(pk=pk, username="bob"), 0)
    with pytest.raises(ValueError, match=r"User lookup's parameters are \(0, 'bob'\)"):
        lookup.first(1)
