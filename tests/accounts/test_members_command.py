"""`manage.py members`: the operator's way to the same transitions."""

from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from audit.models import AuditEvent


def members(*args) -> str:
    out = StringIO()
    call_command("members", *args, stdout=out)
    return out.getvalue()


def test_pending_lists_waiting_members(carol, bob):
    output = members("pending")
    assert "carol" in output and "bob" not in output
    assert output.strip().endswith("1 pending")


def test_approve_by_username(carol, django_user_model):
    django_user_model.objects.create_user(username="frank")
    assert "approved: carol, frank" in members("approve", "carol", "frank")
    event = AuditEvent.objects.filter(target=carol, action="approve").get()
    assert event.actor_name == "manage.py members"


def test_approve_twice_is_harmless(carol):
    members("approve", "carol")
    assert "already done: carol" in members("approve", "carol")
    assert AuditEvent.objects.filter(action="approve").count() == 1


def test_reject_needs_a_reason(carol):
    with pytest.raises(CommandError):
        members("reject", "carol")
    assert "rejected: carol" in members("reject", "carol", "--reason", "duplicate account")


def test_suspend_records_the_actor_given(bob, alice):
    members("suspend", "bob", "--by", "alice")
    assert AuditEvent.objects.get(target=bob).actor == alice


def test_unknown_usernames_are_refused(carol):
    with pytest.raises(CommandError, match="nobody"):
        members("approve", "carol", "nobody")
    carol.refresh_from_db()
    assert carol.membership == "pending"


def test_refused_transitions_fail_the_command(dave):
    with pytest.raises(CommandError):
        members("approve", "dave")
