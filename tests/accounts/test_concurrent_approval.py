"""Two admins approve the same member at the same moment, on two real database connections."""

import threading

import pytest
from django.db import connection, connections

from accounts.models import User
from audit.models import AuditEvent

pytestmark = pytest.mark.django_db(transaction=True)


def test_two_connections_approving_at_once_make_one_transition(django_user_model):
    if connection.vendor != "postgresql":
        pytest.skip(
            "needs PostgreSQL: SQLite serialises all writers, so there is no race to lose "
            "(CI=true bin/test runs this on PostgreSQL)"
        )
    carol = django_user_model.objects.create_user(username="carol")
    admins = [
        django_user_model.objects.create_user(username=name, is_staff=True, is_superuser=True)
        for name in ("alice", "adam")
    ]
    start = threading.Barrier(2)
    results: dict[str, bool] = {}
    errors: list[BaseException] = []

    def approve(admin):
        try:
            member = User.objects.get(pk=carol.pk)  # each thread: its own connection
            start.wait(timeout=10)
            results[admin.username] = member.approve(by=admin)
        except BaseException as exc:  # reported below, not lost in the thread
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=approve, args=(admin,)) for admin in admins]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert not errors, errors
    assert sorted(results.values()) == [False, True]
    carol.refresh_from_db()
    assert carol.membership == "approved"
    assert AuditEvent.objects.filter(target=carol, action="approve").count() == 1
